/* SPDX-License-Identifier: Apache-2.0 */
/* runm features: the runtime-spec "features" document (what the guest agent implements). */
#include <stdio.h>

#include "cmd_util.h"
#include "version.h"

int cmd_features(int argc, char **argv)
{
	struct parsed p;
	if (parse_verb("features", argc, argv, 0, 0, 0, &p) < 0)
		return 1;
	parsed_free(&p);
	printf(
	    "{\n"
	    "  \"ociVersionMin\": \"1.0.0\",\n"
	    "  \"ociVersionMax\": \"" RUNM_OCI_VERSION "\",\n"
	    "  \"hooks\": [\"prestart\", \"createRuntime\", \"createContainer\", \"startContainer\", "
	    "\"poststart\", \"poststop\"],\n"
	    "  \"mountOptions\": [\"async\", \"atime\", \"bind\", \"defaults\", \"dev\", \"diratime\", "
	    "\"exec\", "
	    "\"mand\", \"noatime\", \"nodev\", \"nodiratime\", \"noexec\", \"nosuid\", \"norelatime\", "
	    "\"nostrictatime\", \"private\", \"rbind\", \"relatime\", \"remount\", \"ro\", \"rprivate\", "
	    "\"rshared\", \"rslave\", \"rw\", \"shared\", \"slave\", \"strictatime\", \"suid\", \"sync\"],\n"
	    "  \"linux\": {\n"
	    "    \"namespaces\": [\"cgroup\", \"ipc\", \"mount\", \"network\", \"pid\", \"user\", \"uts\"],\n"
	    "    \"capabilities\": [\"CAP_CHOWN\", \"CAP_DAC_OVERRIDE\", \"CAP_DAC_READ_SEARCH\", "
	    "\"CAP_FOWNER\", "
	    "\"CAP_FSETID\", \"CAP_KILL\", \"CAP_SETGID\", \"CAP_SETUID\", \"CAP_SETPCAP\", "
	    "\"CAP_LINUX_IMMUTABLE\", "
	    "\"CAP_NET_BIND_SERVICE\", \"CAP_NET_BROADCAST\", \"CAP_NET_ADMIN\", \"CAP_NET_RAW\", "
	    "\"CAP_IPC_LOCK\", "
	    "\"CAP_IPC_OWNER\", \"CAP_SYS_MODULE\", \"CAP_SYS_RAWIO\", \"CAP_SYS_CHROOT\", "
	    "\"CAP_SYS_PTRACE\", "
	    "\"CAP_SYS_PACCT\", \"CAP_SYS_ADMIN\", \"CAP_SYS_BOOT\", \"CAP_SYS_NICE\", \"CAP_SYS_RESOURCE\", "
	    "\"CAP_SYS_TIME\", \"CAP_SYS_TTY_CONFIG\", \"CAP_MKNOD\", \"CAP_LEASE\", \"CAP_AUDIT_WRITE\", "
	    "\"CAP_AUDIT_CONTROL\", \"CAP_SETFCAP\", \"CAP_MAC_OVERRIDE\", \"CAP_MAC_ADMIN\", "
	    "\"CAP_SYSLOG\", "
	    "\"CAP_WAKE_ALARM\", \"CAP_BLOCK_SUSPEND\", \"CAP_AUDIT_READ\", \"CAP_PERFMON\", \"CAP_BPF\", "
	    "\"CAP_CHECKPOINT_RESTORE\"],\n"
	    "    \"cgroup\": {\"v1\": false, \"v2\": true, \"systemd\": false, \"systemdUser\": false},\n"
	    "    \"seccomp\": {\"enabled\": true, \"actions\": [\"SCMP_ACT_ALLOW\", \"SCMP_ACT_ERRNO\", "
	    "\"SCMP_ACT_KILL\", \"SCMP_ACT_KILL_PROCESS\", \"SCMP_ACT_KILL_THREAD\", \"SCMP_ACT_LOG\", "
	    "\"SCMP_ACT_TRAP\", \"SCMP_ACT_TRACE\"], \"operators\": [\"SCMP_CMP_EQ\", \"SCMP_CMP_GE\", "
	    "\"SCMP_CMP_GT\", \"SCMP_CMP_LE\", \"SCMP_CMP_LT\", \"SCMP_CMP_MASKED_EQ\", \"SCMP_CMP_NE\"], "
	    "\"archs\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X32\"]},\n"
	    "    \"apparmor\": {\"enabled\": false},\n"
	    "    \"selinux\": {\"enabled\": false}\n"
	    "  },\n"
	    "  \"annotations\": {\n"
	    "    \"io.runm.version\": \"" RUNM_VERSION "\",\n"
	    "    \"io.runm.isolation\": \"microvm\",\n"
	    "    \"io.runm.network\": \"tc-redirect: every Ethernet link of the container's netns becomes a "
	    "virtio-net NIC (veth, tc mirred, tap); IPv4, IPv6, routes, gateway neighbours; no netns: "
	    "loopback only\",\n"
	    "    \"io.runm.annotations\": \"io.runm.kernel io.runm.initrd io.runm.backend io.runm.vcpus "
	    "io.runm.memory_mib io.runm.rootfs-image io.runm.rootfs-image.mode\"\n"
	    "  }\n"
	    "}\n");
	return 0;
}
