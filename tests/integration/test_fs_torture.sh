#!/bin/sh
# POSIX sh (busybox) file-system torture sequence. Run in an empty directory:
#   test_fs_torture.sh DIR HELPER
# Output is deterministic (no inode numbers or wall-clock times) so that a run
# through the virtio-fs server can be compared with a run on the host.
set -u
D=$1
H=$2
cd "$D" || exit 1
export TZ=UTC LC_ALL=C
step() { echo "== $*"; }

step create/write/read
echo hello >a
cat a
step append
echo world >>a
cat a
wc -c <a
step truncate
truncate -s 3 a
cat a; echo
truncate -s 10000 a
wc -c <a
od -An -c -j 9990 a | tr -s ' '
truncate -s 0 a
wc -c <a
step big write and read back
dd if=/dev/zero bs=65536 count=40 2>/dev/null | tr '\0' 'x' >big
wc -c <big
md5sum <big
dd if=big bs=1000 skip=1234 count=3 2>/dev/null | md5sum
step rename
echo first >r1
echo second >r2
mv r1 r3
ls r*
mv r2 r3
cat r3
ls r*
step rename directories
mkdir -p d1/sub d2
echo in >d1/sub/f
mv d1 d2/
find d2 | sort
mkdir e1 e2
echo e >e1/f
mv e2 e3
mv e1 e3/
find e3 | sort
mkdir full empty1 empty2
touch full/x plainfile
"$H" ren empty1 empty2 && ls -d empty1 empty2 2>&1 | sed 's/.*: //'
"$H" ren empty2 full
"$H" ren plainfile full
"$H" ren full plainfile
step rename exchange and noreplace
echo A >xa
echo B >xb
"$H" xchg xa xb && cat xa xb
"$H" noreplace xa xb
mkdir xd
"$H" xchg xa xd && ls -d xa && cat xd
"$H" noreplace xa newname && ls newname
step link
echo linked >l1
ln l1 l2
stat -c '%h' l1
echo more >>l2
cat l1
rm l1
stat -c '%h' l2
ln xd xdlink 2>/dev/null || echo no-dir-hardlink
step symlink
ln -s l2 s1
readlink s1
cat s1
ln -s /etc/passwd sout
readlink sout
ln -s ../../../../../etc sup
readlink sup
ln -s nowhere dangling
cat dangling 2>/dev/null || echo dangling-fails
stat -c '%F' s1 dangling
step chmod
echo m >m
chmod 640 m
stat -c '%a' m
chmod 4755 m
stat -c '%a' m
chmod u-s,g+w m
stat -c '%a' m
mkdir md
chmod 1777 md
stat -c '%a' md
step chown
chown 1234:5678 m
stat -c '%u %g' m
chown 0:0 m
stat -c '%u %g' m
chown -h 42:43 s1
stat -c '%u %g' s1
step utimes
touch -t 200102030405.06 m
stat -c '%Y' m
touch -d '2010-01-01 00:00:00' m
stat -c '%Y' m
step xattr
"$H" setx m user.one 1
"$H" setx m user.two 22
"$H" getx m user.two
"$H" listx m
"$H" getx m user.none
step mmap
echo 0123456789 >mm
"$H" mmapw mm 3 ABC
cat mm
"$H" mmapr mm 2 5
"$H" mmapw mmnew 100 tail
wc -c <mmnew
step mknod
mkfifo fifo
stat -c '%F %a' fifo
step readdir 10000
mkdir many
"$H" mkmany many 10000
ls many | wc -l
ls many | sort | md5sum
ls -a many | wc -l
find many -type f | wc -l
rm -r many
ls -d many 2>/dev/null || echo many-removed
step concurrent writers
: >cw
"$H" writer cw 0 200 4096 &
p1=$!
"$H" writer cw 1 200 4096 &
p2=$!
wait $p1
wait $p2
wc -c <cw
md5sum <cw
step rmdir
rmdir full 2>/dev/null || echo notempty
rm full/x
rmdir full && echo removed
step final tree
find . | sort
