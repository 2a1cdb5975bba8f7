/* SPDX-License-Identifier: Apache-2.0 */
/* Parse the OCI runtime config (config.json / process.json) into struct spec. */
#include "spec.h"
#include "disks.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define ERR(...) agent_errf(err, errlen, __VA_ARGS__)

static const char *const ns_names[NS_COUNT] = {"pid",	"network", "ipc",  "uts",
					       "mount", "cgroup",  "user", "time"};
static const int ns_flags[NS_COUNT] = {CLONE_NEWPID,  CLONE_NEWNET, CLONE_NEWIPC,
				       CLONE_NEWUTS,  CLONE_NEWNS,  CLONE_NEWCGROUP,
				       CLONE_NEWUSER, 0x80 /* CLONE_NEWTIME */};

int agent_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int ns_clone_flag(int ns)
{
	return ns_flags[ns];
}

const char *ns_name(int ns)
{
	return ns_names[ns];
}

static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

int spec_cap_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (strcmp(cap_names[i], name) == 0)
			return (int)i;
	return -1;
}

static const struct {
	const char *name;
	int res;
} rlimit_names[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},		  {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},	  {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},	  {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},	  {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},	  {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},	  {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},	  {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

/* NULL-terminated array of the strings of an array value (pointers into the tree). */
static int str_array(yajl_val arr, char ***out, const char *what, char *err, size_t errlen)
{
	*out = NULL;
	if (!arr)
		return 0;
	if (!YAJL_IS_ARRAY(arr))
		return ERR("%s: not an array", what);
	size_t n = arr->u.array.len;
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return ERR("%s: out of memory", what);
	for (size_t i = 0; i < n; i++) {
		yajl_val e = arr->u.array.values[i];
		if (!YAJL_IS_STRING(e)) {
			free(v);
			return ERR("%s[%zu]: not a string", what, i);
		}
		v[i] = e->u.string;
	}
	*out = v;
	return 0;
}

static int caps_set(yajl_val arr, uint64_t *set, const char *what, char *err, size_t errlen)
{
	*set = 0;
	if (!arr)
		return 0;
	if (!YAJL_IS_ARRAY(arr))
		return ERR("process.capabilities.%s: not an array", what);
	for (size_t i = 0; i < arr->u.array.len; i++) {
		yajl_val e = arr->u.array.values[i];
		int c = YAJL_IS_STRING(e) ? spec_cap_from_name(e->u.string) : -1;
		if (c < 0) {
			/* runc warns and ignores capabilities this kernel does not know. */
			if (YAJL_IS_STRING(e))
				continue;
			return ERR("process.capabilities.%s[%zu]: not a capability name", what, i);
		}
		*set |= 1ULL << c;
	}
	return 0;
}

int spec_process_parse(yajl_val proc, struct spec_process *p, char *err, size_t errlen)
{
	long long v = 0;
	memset(p, 0, sizeof(*p));
	if (!proc || !YAJL_IS_OBJECT(proc))
		return ERR("process: missing or not an object");
	if (str_array(json_get(proc, "args", yajl_t_any), &p->args, "process.args", err, errlen) < 0)
		goto fail;
	if (!p->args || !p->args[0] || !p->args[0][0]) {
		ERR("process.args: must name a program");
		goto fail;
	}
	if (str_array(json_get(proc, "env", yajl_t_any), &p->env, "process.env", err, errlen) < 0)
		goto fail;
	if (!p->env && !(p->env = calloc(1, sizeof(char *)))) {
		ERR("process.env: out of memory");
		goto fail;
	}
	p->cwd = json_get_str(proc, "cwd");
	if (!p->cwd)
		p->cwd = "/";
	if (p->cwd[0] != '/') {
		ERR("process.cwd %s: not an absolute path", p->cwd);
		goto fail;
	}
	int t = json_get_bool(proc, "terminal", 0);
	if (t < 0) {
		ERR("process.terminal: not a boolean");
		goto fail;
	}
	p->terminal = t;
	yajl_val cs = json_get(proc, "consoleSize", yajl_t_object);
	if (cs) {
		if (json_get_int(cs, "height", 0, 65535, &v) == 0)
			p->rows = (unsigned short)v;
		if (json_get_int(cs, "width", 0, 65535, &v) == 0)
			p->cols = (unsigned short)v;
	}
	yajl_val user = json_get(proc, "user", yajl_t_object);
	if (user) {
		if (json_get(user, "uid", yajl_t_any) &&
		    json_get_int(user, "uid", 0, UINT32_MAX - 1, &v) < 0) {
			ERR("process.user.uid: not a valid uid");
			goto fail;
		}
		p->uid = json_get(user, "uid", yajl_t_any) ? (uid_t)v : 0;
		if (json_get(user, "gid", yajl_t_any) &&
		    json_get_int(user, "gid", 0, UINT32_MAX - 1, &v) < 0) {
			ERR("process.user.gid: not a valid gid");
			goto fail;
		}
		p->gid = json_get(user, "gid", yajl_t_any) ? (gid_t)v : 0;
		if (json_get(user, "umask", yajl_t_any)) {
			if (json_get_int(user, "umask", 0, 0777, &v) < 0) {
				ERR("process.user.umask: not a mode in [0, 0777]");
				goto fail;
			}
			p->has_umask = true;
			p->umask = (mode_t)v;
		}
		yajl_val ag = json_get(user, "additionalGids", yajl_t_any);
		if (ag) {
			if (!YAJL_IS_ARRAY(ag) || ag->u.array.len > 65536) {
				ERR("process.user.additionalGids: not an array of gids");
				goto fail;
			}
			p->gids = calloc(ag->u.array.len + 1, sizeof(gid_t));
			if (!p->gids) {
				ERR("process.user.additionalGids: out of memory");
				goto fail;
			}
			for (size_t i = 0; i < ag->u.array.len; i++) {
				yajl_val e = ag->u.array.values[i];
				if (!YAJL_IS_INTEGER(e) || YAJL_GET_INTEGER(e) < 0 ||
				    YAJL_GET_INTEGER(e) >= UINT32_MAX) {
					ERR("process.user.additionalGids[%zu]: not a gid", i);
					goto fail;
				}
				p->gids[p->ngids++] = (gid_t)YAJL_GET_INTEGER(e);
			}
		}
	}
	yajl_val caps = json_get(proc, "capabilities", yajl_t_any);
	if (caps) {
		if (!YAJL_IS_OBJECT(caps)) {
			ERR("process.capabilities: not an object");
			goto fail;
		}
		static const char *const sets[SPEC_CAP_SETS] = {"bounding", "effective", "inheritable",
								"permitted", "ambient"};
		for (int i = 0; i < SPEC_CAP_SETS; i++)
			if (caps_set(json_get(caps, sets[i], yajl_t_any), &p->caps[i], sets[i], err, errlen) <
			    0)
				goto fail;
		p->has_caps = true;
	}
	yajl_val rl = json_get(proc, "rlimits", yajl_t_any);
	if (rl) {
		if (!YAJL_IS_ARRAY(rl) || rl->u.array.len > 64) {
			ERR("process.rlimits: not an array (of at most 64)");
			goto fail;
		}
		p->rlimits = calloc(rl->u.array.len + 1, sizeof(*p->rlimits));
		if (!p->rlimits) {
			ERR("process.rlimits: out of memory");
			goto fail;
		}
		for (size_t i = 0; i < rl->u.array.len; i++) {
			yajl_val e = rl->u.array.values[i];
			const char *type = json_get_str(e, "type");
			yajl_val soft = json_get(e, "soft", yajl_t_number),
				 hard = json_get(e, "hard", yajl_t_number);
			int res = -1;
			for (size_t k = 0; type && k < sizeof(rlimit_names) / sizeof(rlimit_names[0]); k++)
				if (strcmp(rlimit_names[k].name, type) == 0)
					res = rlimit_names[k].res;
			if (res < 0) {
				ERR("process.rlimits[%zu]: unknown type %s", i, type ? type : "(none)");
				goto fail;
			}
			/* Values are u64 in the spec; yajl keeps u64 > INT64_MAX only as double. */
			if (!soft || !hard) {
				ERR("process.rlimits[%zu] %s: soft and hard must be numbers", i, type);
				goto fail;
			}
			struct spec_rlimit *r = &p->rlimits[p->nrlimits++];
			r->resource = res;
			r->soft = YAJL_IS_INTEGER(soft) && YAJL_GET_INTEGER(soft) >= 0
				      ? (rlim_t)YAJL_GET_INTEGER(soft)
				      : RLIM_INFINITY;
			r->hard = YAJL_IS_INTEGER(hard) && YAJL_GET_INTEGER(hard) >= 0
				      ? (rlim_t)YAJL_GET_INTEGER(hard)
				      : RLIM_INFINITY;
		}
	}
	int nnp = json_get_bool(proc, "noNewPrivileges", 0);
	if (nnp < 0) {
		ERR("process.noNewPrivileges: not a boolean");
		goto fail;
	}
	p->no_new_privs = nnp;
	if (json_get(proc, "oomScoreAdj", yajl_t_any)) {
		if (json_get_int(proc, "oomScoreAdj", -1000, 1000, &v) < 0) {
			ERR("process.oomScoreAdj: not an integer in [-1000, 1000]");
			goto fail;
		}
		p->has_oom = true;
		p->oom_score_adj = (int)v;
	}
	return 0;
fail:
	spec_process_free(p);
	return -1;
}

void spec_process_free(struct spec_process *p)
{
	free(p->args);
	free(p->env);
	free(p->gids);
	free(p->rlimits);
	memset(p, 0, sizeof(*p));
}

static yajl_val parse_tree(const char *json, const char *what, char *err, size_t errlen)
{
	char perr[256] = "";
	yajl_val t = json_parse(json, strlen(json), perr, sizeof(perr));
	if (!t) {
		ERR("%s: %s", what, perr);
		return NULL;
	}
	if (!YAJL_IS_OBJECT(t)) {
		yajl_tree_free(t);
		ERR("%s: not a JSON object", what);
		return NULL;
	}
	return t;
}

int spec_process_parse_json(const char *json, yajl_val *owner, struct spec_process *p, char *err,
			    size_t errlen)
{
	*owner = parse_tree(json, "process", err, errlen);
	if (!*owner)
		return -1;
	if (spec_process_parse(*owner, p, err, errlen) < 0) {
		yajl_tree_free(*owner);
		*owner = NULL;
		return -1;
	}
	return 0;
}

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_opts[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},
    {"nosuid", false, MS_NOSUID},
    {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},
    {"exec", true, MS_NOEXEC},
    {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
};
static const struct {
	const char *name;
	unsigned long flag;
} prop_opts[] = {
    {"private", MS_PRIVATE},	   {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},	   {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},	   {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

static unsigned long prop_flag(const char *name)
{
	for (size_t i = 0; i < sizeof(prop_opts) / sizeof(prop_opts[0]); i++)
		if (strcmp(prop_opts[i].name, name) == 0)
			return prop_opts[i].flag;
	return 0;
}

static int parse_mount(yajl_val m, size_t idx, struct spec_mount *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->dest = json_get_str(m, "destination");
	out->type = json_get_str(m, "type");
	out->source = json_get_str(m, "source");
	if (!out->dest || out->dest[0] != '/')
		return ERR("mounts[%zu]: destination missing or not absolute", idx);
	if (strlen(out->dest) >= PATH_MAX / 2)
		return ERR("mounts[%zu]: destination too long", idx);
	const char *hd = json_get_str(m, "runmHostDevice");
	if (hd) {
		char tail;
		if (sscanf(hd, "%u:%u%c", &out->host_major, &out->host_minor, &tail) != 2 ||
		    out->host_major > 0xfff || out->host_minor > 0xfffff)
			return ERR("mounts[%zu] %s: runmHostDevice %s: want major:minor", idx, out->dest, hd);
		out->host_dev = true;
	}
	yajl_val opts = json_get(m, "options", yajl_t_any);
	size_t cap = 1, len = 0;
	out->data = calloc(1, 1);
	if (!out->data)
		return ERR("mounts[%zu]: out of memory", idx);
	if (opts && !YAJL_IS_ARRAY(opts))
		return ERR("mounts[%zu] %s: options not an array", idx, out->dest);
	for (size_t i = 0; opts && i < opts->u.array.len; i++) {
		yajl_val o = opts->u.array.values[i];
		if (!YAJL_IS_STRING(o))
			return ERR("mounts[%zu] %s: options[%zu] not a string", idx, out->dest, i);
		const char *s = o->u.string;
		bool known = false;
		for (size_t k = 0; k < sizeof(mount_opts) / sizeof(mount_opts[0]); k++) {
			if (strcmp(mount_opts[k].name, s) == 0) {
				if (mount_opts[k].clear)
					out->flags &= ~mount_opts[k].flag;
				else
					out->flags |= mount_opts[k].flag;
				known = true;
			}
		}
		unsigned long pf = prop_flag(s);
		if (pf) {
			out->propagation = pf;
			known = true;
		}
		if (strcmp(s, "tmpcopyup") == 0) {
			out->tmpcopyup = true; /* runc's extension, not a mount(2) option */
			continue;
		}
		if (known)
			continue;
		size_t sl = strlen(s);
		if (len + sl + 2 > cap) {
			cap = (len + sl + 2) * 2;
			char *nd = realloc(out->data, cap);
			if (!nd)
				return ERR("mounts[%zu]: out of memory", idx);
			out->data = nd;
		}
		if (len)
			out->data[len++] = ',';
		memcpy(out->data + len, s, sl + 1);
		len += sl;
	}
	out->bind = (out->flags & MS_BIND) || (out->type && strcmp(out->type, "bind") == 0);
	if (out->bind && !(out->flags & MS_BIND))
		out->flags |= MS_BIND;
	if (!out->type)
		out->type = out->bind ? "bind" : "none";
	if (!out->source)
		out->source = out->type;
	return 0;
}

static int str_list(yajl_val arr, const char ***out, size_t *n, const char *what, char *err, size_t errlen)
{
	char **v;
	if (str_array(arr, &v, what, err, errlen) < 0)
		return -1;
	*out = (const char **)v;
	*n = 0;
	while (v && v[*n])
		(*n)++;
	return 0;
}

int spec_parse(const char *json, const char *bundle, struct spec *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->root = parse_tree(json, "config.json", err, errlen);
	if (!s->root)
		return -1;
	if (spec_process_parse(json_get(s->root, "process", yajl_t_any), &s->proc, err, errlen) < 0)
		goto fail;
	yajl_val root = json_get(s->root, "root", yajl_t_object);
	const char *rp = root ? json_get_str(root, "path") : NULL;
	if (!rp || !*rp) {
		ERR("root.path: missing");
		goto fail;
	}
	if (rp[0] == '/' || disks_is_blk_path(rp)) {
		s->root_path = strdup(rp); /* a drive: mounted by ctr_create (agent/disks.h) */
	} else {
		if (!bundle || bundle[0] != '/') {
			ERR("root.path %s is relative and no absolute bundle directory was given", rp);
			goto fail;
		}
		if (asprintf(&s->root_path, "%s/%s", bundle, rp) < 0)
			s->root_path = NULL;
	}
	if (!s->root_path) {
		ERR("root.path: out of memory");
		goto fail;
	}
	s->root_ro = json_get_bool(root, "readonly", 0) == 1;
	s->hostname = json_get_str(s->root, "hostname");
	s->domainname = json_get_str(s->root, "domainname");
	yajl_val mounts = json_get(s->root, "mounts", yajl_t_any);
	if (mounts) {
		if (!YAJL_IS_ARRAY(mounts) || mounts->u.array.len > 4096) {
			ERR("mounts: not an array (of at most 4096)");
			goto fail;
		}
		s->mounts = calloc(mounts->u.array.len + 1, sizeof(*s->mounts));
		if (!s->mounts) {
			ERR("mounts: out of memory");
			goto fail;
		}
		for (size_t i = 0; i < mounts->u.array.len; i++) {
			int r = parse_mount(mounts->u.array.values[i], i, &s->mounts[i], err, errlen);
			s->nmounts = i + 1;
			if (r < 0)
				goto fail;
		}
	}
	yajl_val lnx = json_get(s->root, "linux", yajl_t_object);
	yajl_val nss = json_get(lnx, "namespaces", yajl_t_any);
	if (nss && !YAJL_IS_ARRAY(nss)) {
		ERR("linux.namespaces: not an array");
		goto fail;
	}
	for (size_t i = 0; nss && i < nss->u.array.len; i++) {
		const char *type = json_get_str(nss->u.array.values[i], "type");
		int k = -1;
		for (int j = 0; type && j < NS_COUNT; j++)
			if (strcmp(ns_names[j], type) == 0)
				k = j;
		if (k < 0) {
			ERR("linux.namespaces[%zu]: unknown type %s", i, type ? type : "(none)");
			goto fail;
		}
		if (k == NS_TIME) {
			ERR("linux.namespaces[%zu]: %s namespaces are not supported by runm", i, type);
			goto fail;
		}
		const char *path = json_get_str(nss->u.array.values[i], "path");
		const char *ctr = json_get_str(nss->u.array.values[i], "container");
		if (ctr) {
			/* a pod member: the namespace of another container of this VM (docs/pods.md) */
			if (k != NS_NET && k != NS_IPC && k != NS_UTS && k != NS_USER && k != NS_PID) {
				ERR("linux.namespaces[%zu]: only network, ipc, uts, user and pid namespaces "
				    "can be shared with another container",
				    i);
				goto fail;
			}
			if (!*ctr || strlen(ctr) > PROTO_MAX_ID || (path && *path)) {
				ERR("linux.namespaces[%zu]: \"container\" must be a container id (1-%d "
				    "bytes) and "
				    "exclude \"path\"",
				    i, PROTO_MAX_ID);
				goto fail;
			}
			s->ns_ctr[k] = ctr;
			continue;
		}
		if (path && *path && (k == NS_PID || k == NS_USER)) {
			ERR("linux.namespaces[%zu]: joining a %s namespace by path is not supported", i,
			    type);
			goto fail;
		}
		if (path && *path)
			s->ns_path[k] = path;
		else
			s->ns_new[k] = true;
	}
	if (userns_parse(lnx, s->ns_new[NS_USER], s->ns_ctr[NS_USER] != NULL, &s->userns, err, errlen) < 0)
		goto fail;
	if (str_list(json_get(lnx, "maskedPaths", yajl_t_any), &s->masked, &s->nmasked, "linux.maskedPaths",
		     err, errlen) < 0 ||
	    str_list(json_get(lnx, "readonlyPaths", yajl_t_any), &s->readonly, &s->nreadonly,
		     "linux.readonlyPaths", err, errlen) < 0)
		goto fail;
	yajl_val sc = json_get(lnx, "sysctl", yajl_t_any);
	if (sc) {
		if (!YAJL_IS_OBJECT(sc)) {
			ERR("linux.sysctl: not an object");
			goto fail;
		}
		s->sysctl = calloc(sc->u.object.len + 1, sizeof(*s->sysctl));
		if (!s->sysctl) {
			ERR("linux.sysctl: out of memory");
			goto fail;
		}
		for (size_t i = 0; i < sc->u.object.len; i++) {
			yajl_val v = sc->u.object.values[i];
			const char *k = sc->u.object.keys[i];
			if (!YAJL_IS_STRING(v) || strstr(k, "..") || strchr(k, '/')) {
				ERR("linux.sysctl %s: bad key or non-string value", k);
				goto fail;
			}
			s->sysctl[s->nsysctl].key = k;
			s->sysctl[s->nsysctl++].val = v->u.string;
		}
	}
	yajl_val devs = json_get(lnx, "devices", yajl_t_any);
	if (devs) {
		if (!YAJL_IS_ARRAY(devs) || devs->u.array.len > 1024) {
			ERR("linux.devices: not an array (of at most 1024)");
			goto fail;
		}
		s->devices = calloc(devs->u.array.len + 1, sizeof(*s->devices));
		if (!s->devices) {
			ERR("linux.devices: out of memory");
			goto fail;
		}
		for (size_t i = 0; i < devs->u.array.len; i++) {
			yajl_val d = devs->u.array.values[i];
			struct spec_device *o = &s->devices[s->ndevices];
			const char *type = json_get_str(d, "type");
			long long v;
			o->path = json_get_str(d, "path");
			if (!o->path || strncmp(o->path, "/dev/", 5) != 0 || strstr(o->path, "..")) {
				ERR("linux.devices[%zu]: path must be under /dev/", i);
				goto fail;
			}
			if (!type || (strcmp(type, "c") && strcmp(type, "u") && strcmp(type, "b") &&
				      strcmp(type, "p"))) {
				ERR("linux.devices[%zu] %s: type must be c, u, b or p", i, o->path);
				goto fail;
			}
			o->type = type[0] == 'b' ? S_IFBLK : type[0] == 'p' ? S_IFIFO : S_IFCHR;
			if (o->type != S_IFIFO) {
				long long mj, mn;
				if (json_get_int(d, "major", 0, 0xfff, &mj) < 0 ||
				    json_get_int(d, "minor", 0, 0xfffff, &mn) < 0) {
					ERR("linux.devices[%zu] %s: major/minor missing or out of range", i,
					    o->path);
					goto fail;
				}
				o->major = (unsigned)mj;
				o->minor = (unsigned)mn;
			}
			o->mode = json_get_int(d, "fileMode", 0, 07777, &v) == 0 ? (mode_t)v : 0666;
			o->uid = json_get_int(d, "uid", 0, UINT32_MAX - 1, &v) == 0 ? (uid_t)v : 0;
			o->gid = json_get_int(d, "gid", 0, UINT32_MAX - 1, &v) == 0 ? (gid_t)v : 0;
			o->drive = json_get_str(d, "runmDrive");
			if (o->drive && o->type != S_IFBLK) {
				ERR("linux.devices[%zu] %s: a drive for a device that is not a block device",
				    i, o->path);
				goto fail;
			}
			s->ndevices++;
		}
	}
	const char *rprop = json_get_str(lnx, "rootfsPropagation");
	s->rootfs_propagation = MS_SLAVE | MS_REC;
	if (rprop && *rprop) {
		s->rootfs_propagation = prop_flag(rprop);
		s->rootfs_propagation_set = true;
		if (!s->rootfs_propagation) {
			ERR("linux.rootfsPropagation: unknown value %s", rprop);
			goto fail;
		}
	}
	s->seccomp = json_get(lnx, "seccomp", yajl_t_object);
	s->resources = json_get(lnx, "resources", yajl_t_object);
	s->cgroups_path = json_get_str(lnx, "cgroupsPath");
	return 0;
fail:
	spec_free(s);
	return -1;
}

void spec_free(struct spec *s)
{
	spec_process_free(&s->proc);
	for (size_t i = 0; i < s->nmounts; i++) {
		free(s->mounts[i].data);
		free(s->mounts[i].source_owned);
	}
	free(s->devmap);
	free(s->mounts);
	free(s->masked);
	free(s->readonly);
	free(s->sysctl);
	free(s->devices);
	userns_free(&s->userns);
	free(s->root_path);
	if (s->root)
		yajl_tree_free(s->root);
	memset(s, 0, sizeof(*s));
}
