/* SPDX-License-Identifier: Apache-2.0 */
/* `runm exec ID CMD…` without --process: the process is the container's own process object
 * (capabilities, rlimits, noNewPrivileges, apparmorProfile, selinuxLabel, oomScoreAdj, user,
 * env, cwd, …) with the command line's changes, as runc builds it:
 *   args ← CMD…; terminal ← -t; env += -e; cwd ← --cwd; user.uid[:gid] ← -u;
 *   user.additionalGids += -g; every capability set += --cap; noNewPrivileges ← --no-new-privs;
 *   apparmorProfile ← --apparmor; selinuxLabel ← --process-label;
 *   consoleSize ← the caller's terminal size (with -t and no --console-socket). */
#include "exec_process.h"
#include "json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "guest_config.h"

static void gs(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static yajl_val member(yajl_val obj, const char *key)
{
	if (!obj || !YAJL_IS_OBJECT(obj))
		return NULL;
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (!strcmp(obj->u.object.keys[i], key))
			return obj->u.object.values[i];
	return NULL;
}

/* "net_admin", "CAP_NET_ADMIN" → "CAP_NET_ADMIN" (into BUF). */
static const char *cap_name(const char *c, char *buf, size_t len)
{
	bool pre = !strncasecmp(c, "CAP_", 4);
	snprintf(buf, len, "%s%s", pre ? "" : "CAP_", c);
	for (char *p = buf; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return buf;
}

static void gen_caps(yajl_gen g, yajl_val caps, const struct exec_overrides *x)
{
	static const char *const sets[] = {"bounding", "effective", "inheritable", "permitted", "ambient"};
	yajl_gen_map_open(g);
	/* members we do not know stay as they are */
	for (size_t i = 0; caps && YAJL_IS_OBJECT(caps) && i < caps->u.object.len; i++) {
		bool known = false;
		for (size_t k = 0; k < 5; k++)
			known |= !strcmp(caps->u.object.keys[i], sets[k]);
		if (!known) {
			gs(g, caps->u.object.keys[i]);
			json_gen_value(g, caps->u.object.values[i]);
		}
	}
	for (size_t k = 0; k < 5; k++) {
		yajl_val v = member(caps, sets[k]);
		if (!x->ncaps && !v)
			continue;
		gs(g, sets[k]);
		yajl_gen_array_open(g);
		for (size_t i = 0; v && YAJL_IS_ARRAY(v) && i < v->u.array.len; i++)
			json_gen_value(g, v->u.array.values[i]);
		char buf[64];
		for (int i = 0; i < x->ncaps; i++)
			gs(g, cap_name(x->caps[i], buf, sizeof(buf)));
		yajl_gen_array_close(g);
	}
	yajl_gen_map_close(g);
}

static void gen_user(yajl_gen g, yajl_val user, const struct exec_overrides *x)
{
	long long uid = 0, gid = 0;
	yajl_val u = member(user, "uid"), gv = member(user, "gid");
	if (u && YAJL_IS_INTEGER(u))
		uid = YAJL_GET_INTEGER(u);
	if (gv && YAJL_IS_INTEGER(gv))
		gid = YAJL_GET_INTEGER(gv);
	if (x->user) {
		char *end;
		uid = strtoll(x->user, &end, 10);
		if (*end == ':')
			gid = strtoll(end + 1, &end, 10);
	}
	yajl_gen_map_open(g);
	for (size_t i = 0; user && YAJL_IS_OBJECT(user) && i < user->u.object.len; i++) {
		const char *k = user->u.object.keys[i];
		if (strcmp(k, "uid") && strcmp(k, "gid") && strcmp(k, "additionalGids")) {
			gs(g, k);
			json_gen_value(g, user->u.object.values[i]);
		}
	}
	gs(g, "uid");
	yajl_gen_integer(g, uid);
	gs(g, "gid");
	yajl_gen_integer(g, gid);
	yajl_val ag = member(user, "additionalGids");
	if (ag || x->ngids) {
		gs(g, "additionalGids");
		yajl_gen_array_open(g);
		for (size_t i = 0; ag && YAJL_IS_ARRAY(ag) && i < ag->u.array.len; i++)
			json_gen_value(g, ag->u.array.values[i]);
		for (int i = 0; i < x->ngids; i++)
			yajl_gen_integer(g, atoll(x->gids[i]));
		yajl_gen_array_close(g);
	}
	yajl_gen_map_close(g);
}

char *exec_process_json(yajl_val proc, const struct exec_overrides *x)
{
	static const char *const replaced[] = {"args", "terminal",     "env",	      "cwd",
					       "user", "capabilities", "consoleSize", "commandLine"};
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g)
		return NULL;
	yajl_gen_map_open(g);
	for (size_t i = 0; proc && YAJL_IS_OBJECT(proc) && i < proc->u.object.len; i++) {
		const char *k = proc->u.object.keys[i];
		bool skip = false;
		for (size_t r = 0; r < sizeof(replaced) / sizeof(replaced[0]); r++)
			skip |= !strcmp(k, replaced[r]);
		skip |= x->no_new_privs && !strcmp(k, "noNewPrivileges");
		skip |= x->apparmor && !strcmp(k, "apparmorProfile");
		skip |= x->label && !strcmp(k, "selinuxLabel");
		if (!skip) {
			gs(g, k);
			json_gen_value(g, proc->u.object.values[i]);
		}
	}
	gs(g, "terminal");
	yajl_gen_bool(g, x->tty);
	gs(g, "args");
	yajl_gen_array_open(g);
	for (int i = 0; i < x->nargs; i++)
		gs(g, x->args[i]);
	yajl_gen_array_close(g);
	gs(g, "env");
	yajl_gen_array_open(g);
	yajl_val env = member(proc, "env");
	for (size_t i = 0; env && YAJL_IS_ARRAY(env) && i < env->u.array.len; i++)
		if (YAJL_IS_STRING(env->u.array.values[i]))
			json_gen_value(g, env->u.array.values[i]);
	for (int i = 0; i < x->nenv; i++)
		gs(g, x->env[i]);
	yajl_gen_array_close(g);
	yajl_val cwd = member(proc, "cwd");
	gs(g, "cwd");
	gs(g, x->cwd ? x->cwd : cwd && YAJL_IS_STRING(cwd) ? YAJL_GET_STRING(cwd) : "/");
	gs(g, "user");
	gen_user(g, member(proc, "user"), x);
	yajl_val caps = member(proc, "capabilities");
	if (caps || x->ncaps) {
		gs(g, "capabilities");
		gen_caps(g, caps, x);
	}
	if (x->no_new_privs) {
		gs(g, "noNewPrivileges");
		yajl_gen_bool(g, 1);
	}
	if (x->apparmor) {
		gs(g, "apparmorProfile");
		gs(g, x->apparmor);
	}
	if (x->label) {
		gs(g, "selinuxLabel");
		gs(g, x->label);
	}
	if (x->rows && x->cols) {
		gs(g, "consoleSize");
		yajl_gen_map_open(g);
		gs(g, "height");
		yajl_gen_integer(g, x->rows);
		gs(g, "width");
		yajl_gen_integer(g, x->cols);
		yajl_gen_map_close(g);
	}
	yajl_gen_map_close(g);
	return json_gen_take(g);
}
