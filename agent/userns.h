/* SPDX-License-Identifier: Apache-2.0 */
/* User namespaces in the guest (runc's semantics): linux.uidMappings / gidMappings parsed with
 * the spec, written by the agent into /proc/PID/{uid,gid}_map of a container init created in a
 * new user namespace (CLONE_NEWUSER with its other namespaces, so they are owned by it), before
 * the init goes on; exec'd processes join it first of all. */
#ifndef RUNM_AGENT_USERNS_H
#define RUNM_AGENT_USERNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <yajl/yajl_tree.h>

struct spec;

/* One line of uid_map / gid_map: container id, host (guest) id, size. */
struct userns_idmap {
	uint32_t inside, outside, count;
};
#define USERNS_MAX_EXTENTS 340 /* the kernel's UID_GID_MAP_MAX_EXTENTS */

struct userns_maps {
	struct userns_idmap *uid, *gid;
	size_t nuid, ngid;
};

/* linux.uidMappings / linux.gidMappings of LNX into *M (whether or not a user namespace is
 * asked for; NEW_USERNS / JOIN_USERNS say whether it is: runc's checks of the pairing and of a
 * mapped root).  0, or -1 with ERR (M freed). */
int userns_parse(yajl_val lnx, bool new_userns, bool join_userns, struct userns_maps *m, char *err,
		 size_t errlen);
void userns_free(struct userns_maps *m);
/* MAP's uid_map text ("inside outside count\n" per extent) into BUF: its length, or -1 when
 * it does not fit. */
int userns_map_text(const struct userns_idmap *map, size_t n, char *buf, size_t len);
/* Agent side: write M into /proc/PID/uid_map and gid_map (setgroups stays allowed: runc as
 * root does not deny it).  0, or -1 with ERR naming the file and why. */
int userns_write_maps(pid_t pid, const struct userns_maps *m, char *err, size_t errlen);
/* Child side, once the maps are written: become root of the new user namespace (and keep
 * the parent-death signal and dumpable flag, which the credential change clears).  0, or -1 with errno;
 * *STEP names what failed. */
int userns_become_root(const char **step);

/* Create side, for an init in a new user namespace: the namespaces it joins (FDS[ns], of
 * other containers, ns_ctr: net, ipc, uts) are joined by the agent's thread around the clone
 * (after CLONE_NEWUSER the child could not join namespaces that its user namespace does not
 * own — runc joins them before it unshares the user namespace).  SAVED[ns] receives the
 * agent's own; joined entries of FDS are closed and set to -1.  0, or -1 with ERR (the agent
 * back in its own namespaces). */
int userns_join_before_clone(int *fds, int *saved, char *err, size_t errlen);
/* Back into SAVED (closed and set to -1); logs what could not be restored. */
void userns_restore_after_clone(int *saved);

struct spec_process;
/* Agent side, for an init already in its user namespace (before it goes on): P's rlimits
 * (prlimit) and oom_score_adj set from here, as runc does, because inside the user namespace
 * the init may not raise a limit or lower its score (CAP_SYS_RESOURCE of the initial one); its
 * own setrlimit of the same values later changes nothing.  0, or -1 with ERR. */
int userns_apply_limits(pid_t pid, const struct spec_process *p, char *err, size_t errlen);

/* Create side, for an init that joins another container's user namespace FDS[NS_USER] (spec
 * ns_ctr): 1 when it is to be made with userns_clone_in; 0 when there is none or it is the
 * agent's own (the fd then closed and set to -1). */
int userns_join_target(int *fds);
/* Clone FN(ARG) with FLAGS (CLONE_NEW*) from a forked helper that joined the user namespace
 * USERNS — so that the new namespaces, its pid namespace too, are owned by that one, as runc
 * makes them after joining a user namespace path — as the caller's child (CLONE_PARENT: its
 * exit is ours to reap).  Its pid, or -1 with errno. */
pid_t userns_clone_in(int userns, int (*fn)(void *), void *arg, int flags);

#endif
