/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime's inputs of the backend decision: the config file, the environment (backend_choice.h). */
#include "backend_choice.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

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

int backend_choose(const char *annotation, const char *flag, struct host_probe *probe, struct backend_plan *p,
		   char *err, size_t errlen)
{
	const char *path = getenv("RUNM_CONFIG");
	bool named = path && *path;
	char cfg[16];
	struct host_probe h;
	backend_host_probe(&h);
	if (probe)
		*probe = h;
	memset(p, 0, sizeof(*p));
	const char *cfg_path = named ? path : RUNM_CONFIG_DEFAULT;
	if (backend_config_read(cfg_path, named, cfg, sizeof(cfg), err, errlen) < 0) {
		snprintf(p->reason, sizeof(p->reason), "%s", err);
		return -1;
	}
	struct backend_request rq = {
	    .annotation = annotation,
	    .flag = flag,
	    .env = getenv("RUNM_BACKEND"),
	    .config = cfg,
	    .config_path = cfg_path,
	    .host_agent = backend_test_host_agent(),
	};
	return backend_plan_decide(&rq, &h, p, err, errlen);
}
