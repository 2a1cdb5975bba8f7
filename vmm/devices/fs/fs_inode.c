/* SPDX-License-Identifier: Apache-2.0 */
/* Inode table: O_PATH handles keyed by (dev, ino) and by FUSE node id. Memory
 * is bounded by the inodes the kernel currently holds lookups on. */
#include "fs_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static size_t hash64(uint64_t x, size_t nb)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)(x & (nb - 1));
}

static size_t key_hash(dev_t dev, ino_t ino, size_t nb)
{
	return hash64((uint64_t)ino * 31 + (uint64_t)dev, nb);
}

int fs_itable_init(struct fs_itable *t)
{
	t->nbuckets = 64;
	t->count = 0;
	t->next_nodeid = FUSE_ROOT_ID;
	t->by_key =
	    calloc(t->nbuckets,
		   sizeof(*t->by_key)); /* NOLINT(bugprone-sizeof-expression): bucket heads are pointers */
	t->by_id = calloc(t->nbuckets, sizeof(*t->by_id)); /* NOLINT(bugprone-sizeof-expression) */
	if (!t->by_key || !t->by_id) {
		free(t->by_key);
		free(t->by_id);
		return -ENOMEM;
	}
	return 0;
}

void fs_itable_destroy(struct fs_itable *t)
{
	for (size_t b = 0; b < t->nbuckets; b++) {
		struct fs_inode *in = t->by_id[b];
		while (in) {
			struct fs_inode *next = in->next_id;
			close(in->fd);
			free(in);
			in = next;
		}
	}
	free(t->by_key);
	free(t->by_id);
	t->by_key = t->by_id = NULL;
	t->count = 0;
}

static int rehash(struct fs_itable *t, size_t nb)
{
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): bucket heads are pointers */
	struct fs_inode **bk = calloc(nb, sizeof(*bk)), **bi = calloc(nb, sizeof(*bi));
	if (!bk || !bi) {
		free(bk);
		free(bi);
		return -ENOMEM;
	}
	for (size_t b = 0; b < t->nbuckets; b++) {
		struct fs_inode *in = t->by_id[b];
		while (in) {
			struct fs_inode *next = in->next_id;
			size_t h = hash64(in->nodeid, nb), k = key_hash(in->dev, in->ino, nb);
			in->next_id = bi[h];
			bi[h] = in;
			in->next_key = bk[k];
			bk[k] = in;
			in = next;
		}
	}
	free(t->by_key);
	free(t->by_id);
	t->by_key = bk;
	t->by_id = bi;
	t->nbuckets = nb;
	return 0;
}

struct fs_inode *fs_inode_get(struct fs_itable *t, uint64_t nodeid)
{
	for (struct fs_inode *in = t->by_id[hash64(nodeid, t->nbuckets)]; in; in = in->next_id)
		if (in->nodeid == nodeid)
			return in;
	return NULL;
}

struct fs_inode *fs_inode_find(struct fs_itable *t, dev_t dev, ino_t ino)
{
	for (struct fs_inode *in = t->by_key[key_hash(dev, ino, t->nbuckets)]; in; in = in->next_key)
		if (in->ino == ino && in->dev == dev)
			return in;
	return NULL;
}

struct fs_inode *fs_inode_insert(struct fs_itable *t, int fd, const struct stat *st)
{
	if (t->count + 1 > t->nbuckets && t->nbuckets < ((size_t)1 << 40))
		(void)rehash(t, t->nbuckets * 2); /* a failed grow only lengthens chains */
	struct fs_inode *in = calloc(1, sizeof(*in));
	if (!in)
		return NULL;
	in->nodeid = t->next_nodeid++;
	in->dev = st->st_dev;
	in->ino = st->st_ino;
	in->type = st->st_mode & S_IFMT;
	in->fd = fd;
	in->nlookup = 1;
	size_t h = hash64(in->nodeid, t->nbuckets), k = key_hash(in->dev, in->ino, t->nbuckets);
	in->next_id = t->by_id[h];
	t->by_id[h] = in;
	in->next_key = t->by_key[k];
	t->by_key[k] = in;
	t->count++;
	return in;
}

static void unlink_chain(struct fs_inode **head, struct fs_inode *in, bool by_id)
{
	for (struct fs_inode **pp = head; *pp; pp = by_id ? &(*pp)->next_id : &(*pp)->next_key) {
		if (*pp == in) {
			*pp = by_id ? in->next_id : in->next_key;
			return;
		}
	}
}

void fs_inode_unref(struct fs_itable *t, struct fs_inode *in, uint64_t n)
{
	if (in->nodeid == FUSE_ROOT_ID)
		return;
	in->nlookup = n >= in->nlookup ? 0 : in->nlookup - n;
	if (in->nlookup)
		return;
	unlink_chain(&t->by_id[hash64(in->nodeid, t->nbuckets)], in, true);
	unlink_chain(&t->by_key[key_hash(in->dev, in->ino, t->nbuckets)], in, false);
	close(in->fd);
	free(in);
	t->count--;
}
