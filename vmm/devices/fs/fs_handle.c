/* SPDX-License-Identifier: Apache-2.0 */
/* Open file and directory handles. A FUSE fh is (generation << 32 | slot + 1),
 * so a stale or forged fh never reaches another open file. */
#include "fs_priv.h"

#include <stdlib.h>
#include <unistd.h>

#define FS_MAX_HANDLES (1u << 20)

void fs_htable_init(struct fs_htable *t)
{
	t->h = NULL;
	t->cap = t->used = 0;
	t->free_head = UINT32_MAX;
}

void fs_htable_destroy(struct fs_htable *t)
{
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->h[i].fd >= 0)
			close(t->h[i].fd);
	free(t->h);
	fs_htable_init(t);
}

uint64_t fs_handle_new(struct fs_htable *t, int fd, bool dir, uint64_t nodeid)
{
	if (t->free_head == UINT32_MAX) {
		if (t->cap >= FS_MAX_HANDLES)
			return 0;
		uint32_t ncap = t->cap ? t->cap * 2 : 16;
		struct fs_handle *nh = realloc(t->h, ncap * sizeof(*nh));
		if (!nh)
			return 0;
		for (uint32_t i = t->cap; i < ncap; i++) {
			nh[i].fd = -1;
			nh[i].dir = false;
			nh[i].gen = 1;
			nh[i].next_free = i + 1 < ncap ? i + 1 : UINT32_MAX;
		}
		t->h = nh;
		t->free_head = t->cap;
		t->cap = ncap;
	}
	uint32_t i = t->free_head;
	struct fs_handle *h = &t->h[i];
	t->free_head = h->next_free;
	h->fd = fd;
	h->dir = dir;
	h->nodeid = nodeid;
	t->used++;
	return ((uint64_t)h->gen << 32) | (uint64_t)(i + 1);
}

struct fs_handle *fs_handle_get(struct fs_htable *t, uint64_t fh, bool dir)
{
	uint32_t slot = (uint32_t)fh, gen = (uint32_t)(fh >> 32);
	if (slot == 0 || slot > t->cap)
		return NULL;
	struct fs_handle *h = &t->h[slot - 1];
	if (h->fd < 0 || h->gen != gen || h->dir != dir)
		return NULL;
	return h;
}

void fs_handle_free(struct fs_htable *t, uint64_t fh)
{
	uint32_t slot = (uint32_t)fh;
	struct fs_handle *h = &t->h[slot - 1];
	close(h->fd);
	h->fd = -1;
	h->gen++;
	if (h->gen == 0)
		h->gen = 1;
	h->next_free = t->free_head;
	t->free_head = slot - 1;
	t->used--;
}
