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
#include "backend/jail.h"
#include "io.h"
#include "json.h"

#define CONFIG_MAX 65536

bool backend_name_valid(const char *name)
{
	enum vm_backend_kind k;
	return vm_backend_parse(name, &k) == 0; /* the backend library's own names */
}

int backend_config_read(const char *path, bool must_exist, struct runm_config *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	char *buf = io_read_file(path, CONFIG_MAX, NULL);
	if (!buf && errno == ENOENT && !must_exist)
		return 0;
	if (!buf) {
		snprintf(err, errlen, "config %s: %s", path,
			 errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
		return -1;
	}
	int rc = backend_config_parse(buf, path, c, err, errlen);
	free(buf);
	return rc;
}

static int parse_jail(yajl_val v, const char *path, struct runm_config *c, char *err, size_t errlen)
{
	if (!YAJL_IS_OBJECT(v)) {
		snprintf(err, errlen, "config %s: \"jail\" must be an object", path);
		return -1;
	}
	for (size_t i = 0; i < v->u.object.len; i++) {
		const char *k = v->u.object.keys[i];
		if (strcmp(k, "id_base") && strcmp(k, "id_count")) {
			snprintf(err, errlen,
				 "config %s: jail: unknown key \"%s\" (known: id_base, id_count)", path, k);
			return -1;
		}
	}
	long long base, count;
	if (json_get_int(v, "id_base", 1, UINT32_MAX - 1, &base) < 0 ||
	    json_get_int(v, "id_count", 1, UINT32_MAX - 1, &count) < 0 ||
	    base + count > (long long)UINT32_MAX) {
		snprintf(err, errlen,
			 "config %s: jail: id_base and id_count must be integers with 1 <= id_base and "
			 "id_base + id_count <= 4294967295 (not root, not (uid_t)-1)",
			 path);
		return -1;
	}
	c->jail_id_base = (unsigned)base;
	c->jail_id_count = (unsigned)count;
	return 0;
}

int backend_config_parse(const char *json, const char *path, struct runm_config *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	char perr[256] = "";
	yajl_val root = json_parse(json, strlen(json), perr, sizeof(perr));
	int rc = -1;
	if (!YAJL_IS_OBJECT(root)) {
		snprintf(err, errlen, "config %s: %s", path,
			 root	   ? "not a JSON object"
			 : perr[0] ? perr
				   : "invalid JSON");
		goto out;
	}
	for (size_t i = 0; i < root->u.object.len; i++) {
		const char *k = root->u.object.keys[i];
		yajl_val v = root->u.object.values[i];
		if (!strcmp(k, "jail")) {
			if (parse_jail(v, path, c, err, errlen) < 0)
				goto out;
			continue;
		}
		if (!strcmp(k, "rootfs_device")) {
			if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
				snprintf(err, errlen, "config %s: \"rootfs_device\" must be true or false",
					 path);
				goto out;
			}
			c->rootfs_device = YAJL_IS_TRUE(v);
			continue;
		}
		if (strcmp(k, "backend")) {
			snprintf(err, errlen,
				 "config %s: unknown key \"%s\" (known: backend, jail, rootfs_device)", path,
				 k);
			goto out;
		}
		if (!YAJL_IS_STRING(v) || !backend_name_valid(YAJL_GET_STRING(v))) {
			snprintf(err, errlen,
				 "config %s: \"backend\" must be \"auto\", \"runm-vmm\" or \"qemu\"", path);
			goto out;
		}
		snprintf(c->backend, sizeof(c->backend), "%s", YAJL_GET_STRING(v));
	}
	rc = 0;
out:
	yajl_tree_free(root);
	return rc;
}

int backend_choose(const char *annotation, const char *flag, struct host_probe *probe, struct backend_plan *p,
		   char *err, size_t errlen)
{
	struct runm_config cfg;
	return backend_choose_cfg(annotation, flag, probe, p, &cfg, err, errlen);
}

int backend_choose_cfg(const char *annotation, const char *flag, struct host_probe *probe,
		       struct backend_plan *p, struct runm_config *cfgp, char *err, size_t errlen)
{
	const char *path = getenv("RUNM_CONFIG");
	bool named = path && *path;
	struct runm_config cfg;
	struct host_probe h;
	backend_host_probe(&h);
	if (probe)
		*probe = h;
	memset(p, 0, sizeof(*p));
	const char *cfg_path = named ? path : RUNM_CONFIG_DEFAULT;
	if (backend_config_read(cfg_path, named, &cfg, err, errlen) < 0) {
		snprintf(p->reason, sizeof(p->reason), "%s", err);
		return -1;
	}
	if (cfg.jail_id_count)
		jail_set_id_range(cfg.jail_id_base, cfg.jail_id_count);
	*cfgp = cfg;
	struct backend_request rq = {
	    .annotation = annotation,
	    .flag = flag,
	    .env = getenv("RUNM_BACKEND"),
	    .config = cfg.backend,
	    .config_path = cfg_path,
	    .host_agent = backend_test_host_agent(),
	};
	return backend_plan_decide(&rq, &h, p, err, errlen);
}
