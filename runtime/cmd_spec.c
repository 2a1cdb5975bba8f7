/* SPDX-License-Identifier: Apache-2.0 */
/* runm spec [--bundle DIR] [--rootless]: a runc-style config.json template; refuses to
 * overwrite an existing one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd_util.h"
#include "log.h"
#include "version.h"

static const char SPEC_HEAD[] =
    "{\n"
    "  \"ociVersion\": \"" RUNM_OCI_VERSION "\",\n"
    "  \"process\": {\n"
    "    \"terminal\": true,\n"
    "    \"user\": {\"uid\": 0, \"gid\": 0},\n"
    "    \"args\": [\"sh\"],\n"
    "    \"env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\", "
    "\"TERM=xterm\"],\n"
    "    \"cwd\": \"/\",\n"
    "    \"capabilities\": {\n"
    "      \"bounding\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
    "      \"effective\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
    "      \"permitted\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
    "      \"ambient\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"]\n"
    "    },\n"
    "    \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}],\n"
    "    \"noNewPrivileges\": true\n"
    "  },\n"
    "  \"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
    "  \"hostname\": \"runm\",\n"
    "  \"mounts\": [\n"
    "    {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},\n"
    "    {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": "
    "[\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},\n"
    "    {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\", "
    "\"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\"%s]},\n"
    "    {\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\", \"options\": "
    "[\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},\n"
    "    {\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\", \"options\": "
    "[\"nosuid\", \"noexec\", \"nodev\"]},\n";
/* runc's rootless template binds the host's /sys (a sysfs needs a network namespace of ours) */
static const char SPEC_SYS[] =
    "    {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\", \"options\": "
    "[\"nosuid\", \"noexec\", \"nodev\", \"ro\"]},\n";
static const char SPEC_SYS_ROOTLESS[] =
    "    {\"destination\": \"/sys\", \"type\": \"none\", \"source\": \"/sys\", "
    "\"options\": [\"rbind\", \"nosuid\", \"noexec\", \"nodev\", \"ro\"]},\n";
static const char SPEC_CGROUP[] =
    "    {\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\", "
    "\"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]}\n"
    "  ],\n"
    "  \"linux\": {\n";
static const char SPEC_RESOURCES[] =
    "    \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},\n";
static const char SPEC_NS[] =
    "    \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\"}, {\"type\": \"ipc\"}, "
    "{\"type\": \"uts\"}, {\"type\": \"mount\"}],\n";
static const char SPEC_NS_ROOTLESS[] =
    "    \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"ipc\"}, {\"type\": "
    "\"uts\"}, {\"type\": \"mount\"}, {\"type\": \"user\"}],\n"
    "    \"uidMappings\": [{\"containerID\": 0, \"hostID\": %d, \"size\": 1}],\n"
    "    \"gidMappings\": [{\"containerID\": 0, \"hostID\": %d, \"size\": 1}],\n";
static const char SPEC_TAIL[] = "    \"maskedPaths\": [\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", "
				"\"/proc/keys\", \"/proc/latency_stats\", "
				"\"/proc/timer_list\", \"/proc/timer_stats\", \"/proc/sched_debug\", "
				"\"/sys/firmware\", \"/proc/scsi\"],\n"
				"    \"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", "
				"\"/proc/sys\", \"/proc/sysrq-trigger\"]\n"
				"  }\n"
				"}\n";

struct spec_opts {
	const char *bundle;
	bool rootless;
};

const struct optdef spec_opts[] = {
    OPT_VALUE(struct spec_opts, bundle, "bundle", 'b', "where to write config.json"),
    OPT_FLAG(struct spec_opts, rootless, "rootless", 0, "rootless spec"),
    OPT_END,
};

int cmd_spec(int argc, char **argv)
{
	struct parsed p;
	struct spec_opts o;
	if (PARSE_VERB("spec", argc, argv, 0, 0, 0, &o, &p) < 0)
		return 1;
	const char *b = o.bundle;
	bool rootless = o.rootless;
	char path[PATH_MAX];
	int rc = 1;
	snprintf(path, sizeof(path), "%s/config.json", b ? b : ".");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			log_error("File %s exists. Remove it first", b ? path : "config.json");
		else
			log_errno(errno, "create %s", path);
		goto out;
	}
	/* rootless: no gid=5 on devpts (the group may not be mapped), as runc */
	if (dprintf(fd, SPEC_HEAD, rootless ? "" : ", \"gid=5\"") < 0 ||
	    dprintf(fd, "%s%s%s", rootless ? SPEC_SYS_ROOTLESS : SPEC_SYS, SPEC_CGROUP,
		    rootless ? "" : SPEC_RESOURCES) < 0 ||
	    (rootless ? dprintf(fd, SPEC_NS_ROOTLESS, (int)getuid(), (int)getgid())
		      : dprintf(fd, "%s", SPEC_NS)) < 0 ||
	    dprintf(fd, "%s", SPEC_TAIL) < 0) {
		log_errno(errno, "write %s", path);
		close(fd);
		unlink(path);
		goto out;
	}
	close(fd);
	rc = 0;
out:
	parsed_free(&p);
	return rc;
}
