/* SPDX-License-Identifier: Apache-2.0 */
/* Which VMM backend runs a container's VM, and why (see backend_choice.h). */
#include "backend_choice.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "artifacts.h"
#include "backend/backend.h"

#define CONFIG_MAX 65536

bool backend_name_valid(const char *name)
{
	enum vm_backend_kind k;
	return vm_backend_parse(name, &k) == 0; /* the backend library's own names */
}

int backend_config_read(const char *path, bool must_exist, char *backend, size_t cap, char *err,
			size_t errlen)
{
	backend[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "config %s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(CONFIG_MAX + 1);
	size_t len = 0;
	ssize_t n = 1;
	while (buf && len < CONFIG_MAX + 1 && (n = read(fd, buf + len, CONFIG_MAX + 1 - len)) > 0)
		len += (size_t)n;
	int e = errno;
	close(fd);
	if (!buf || n < 0 || len > CONFIG_MAX) {
		snprintf(err, errlen, "config %s: %s", path,
			 !buf	 ? "out of memory"
			 : n < 0 ? strerror(e)
				 : "larger than 64 KiB");
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	int rc = backend_config_parse(buf, path, backend, cap, err, errlen);
	free(buf);
	return rc;
}

int backend_config_parse(const char *json, const char *path, char *backend, size_t cap, char *err,
			 size_t errlen)
{
	backend[0] = '\0';
	char perr[256] = "";
	yajl_val root = yajl_tree_parse(json, perr, sizeof(perr));
	int rc = -1;
	if (!YAJL_IS_OBJECT(root)) {
		char *nl = strchr(perr, '\n');
		if (nl)
			*nl = '\0';
		snprintf(err, errlen, "config %s: %s", path,
			 root	   ? "not a JSON object"
			 : perr[0] ? perr
				   : "invalid JSON");
		goto out;
	}
	for (size_t i = 0; i < root->u.object.len; i++) {
		const char *k = root->u.object.keys[i];
		yajl_val v = root->u.object.values[i];
		if (strcmp(k, "backend")) {
			snprintf(err, errlen, "config %s: unknown key \"%s\" (known: backend)", path, k);
			goto out;
		}
		if (!YAJL_IS_STRING(v) || !backend_name_valid(YAJL_GET_STRING(v))) {
			snprintf(err, errlen,
				 "config %s: \"backend\" must be \"auto\", \"runm-vmm\" or \"qemu\"", path);
			goto out;
		}
		snprintf(backend, cap, "%s", YAJL_GET_STRING(v));
	}
	rc = 0;
out:
	yajl_tree_free(root);
	return rc;
}

int backend_pick(const struct backend_inputs *in, char *backend, size_t cap, char *why, size_t whycap,
		 char *err, size_t errlen)
{
	char cfg[PATH_MAX + 16];
	snprintf(cfg, sizeof(cfg), "config %s", in->config_path ? in->config_path : RUNM_CONFIG_DEFAULT);
	const struct {
		const char *value, *source;
	} src[] = {
	    {in->annotation, "annotation io.runm.backend"},
	    {in->flag, "--backend"},
	    {in->env, "RUNM_BACKEND"},
	    {in->config, cfg},
	};
	const char *automatic = NULL;
	for (size_t i = 0; i < sizeof(src) / sizeof(src[0]) && !automatic; i++) {
		const char *v = src[i].value;
		if (!v || !*v)
			continue;
		if (!backend_name_valid(v)) {
			snprintf(err, errlen, "backend \"%s\" (from %s): want auto, runm-vmm or qemu", v,
				 src[i].source);
			return -1;
		}
		if (!strcmp(v, "auto")) {
			automatic = src[i].source;
			break;
		}
		snprintf(backend, cap, "%s", v);
		snprintf(why, whycap, "chosen by %s", src[i].source);
		return 0;
	}
	char pre[PATH_MAX + 48] = "";
	if (automatic)
		snprintf(pre, sizeof(pre), "automatic (%s says auto): ", automatic);
	if (in->hw) {
		snprintf(backend, cap, "runm-vmm");
		snprintf(why, whycap, "%s%s", pre, in->hw_why);
	} else if (in->have_qemu) {
		snprintf(backend, cap, "qemu");
		snprintf(why, whycap, "%s%s; using QEMU (TCG) with vhost-user devices", pre, in->hw_why);
	} else {
		snprintf(err, errlen, "no usable VM backend: %s, and qemu-system-x86_64 is not in PATH",
			 in->hw_why);
		return -1;
	}
	return 0;
}

int backend_choose(const char *annotation, const char *flag, char *backend, size_t cap, char *why,
		   size_t whycap, char *err, size_t errlen)
{
	const char *path = getenv("RUNM_CONFIG");
	bool named = path && *path;
	char cfg[16];
	if (backend_config_read(named ? path : RUNM_CONFIG_DEFAULT, named, cfg, sizeof(cfg), err, errlen) < 0)
		return -1;
	char hw_why[256], qemu[PATH_MAX];
	struct backend_inputs in = {
	    .annotation = annotation,
	    .flag = flag,
	    .env = getenv("RUNM_BACKEND"),
	    .config = cfg,
	    .config_path = named ? path : RUNM_CONFIG_DEFAULT,
	};
	in.hw = host_hw_virt(hw_why, sizeof(hw_why));
	in.hw_why = hw_why;
	in.have_qemu = find_in_path("qemu-system-x86_64", qemu, sizeof(qemu));
	return backend_pick(&in, backend, cap, why, whycap, err, errlen);
}
