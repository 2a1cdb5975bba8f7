/* SPDX-License-Identifier: Apache-2.0 */
/* runm-vmm configuration: command line flags and a JSON file with the same keys. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <yajl/yajl_tree.h>

#include "log.h"
#include "version.h"
#include "vm.h"

#define DEFAULT_MEM_MIB 128
#define DEFAULT_CID	3

static const char usage[] =
    "usage: runm-vmm --kernel FILE [options]\n"
    "       runm-vmm vhost-user [options]   (vhost-user device backend)\n"
    "\n"
    "Boot a KVM microVM: an ELF vmlinux (PVH entry when present) or a bzImage.\n"
    "\n"
    "  --kernel FILE        guest kernel (required)\n"
    "  --initrd FILE        initramfs, placed at the top of low memory\n"
    "  --cmdline STRING     kernel command line (default: console=ttyS0 reboot=k panic=-1 ...)\n"
    "  --cpus N             vCPUs (1-32, default 1)\n"
    "  --mem MiB            guest memory (default 128)\n"
    "  --hugepages          back guest memory with hugetlbfs pages\n"
    "  --vsock-uds PATH     virtio-vsock, host side on this AF_UNIX socket (hybrid vsock)\n"
    "  --vsock-cid N        guest CID (default 3)\n"
    "  --vsock-listen-fd N  the --vsock-uds socket, already bound and listening (inherited fd)\n"
    "  --fs TAG=DIR         virtio-fs share (repeatable)\n"
    "  --rng                virtio-rng\n"
    "  --net OPTS           virtio-net on a tap (repeatable): tapfd=N (an open tap, IFF_TAP|\n"
    "                       IFF_NO_PI|IFF_VNET_HDR) or tap=NAME, then [,mac=MAC][,mtu=N]\n"
    "  --drive OPTS         virtio-blk on a raw image (repeatable): path=FILE or fd=N, then\n"
    "                       [,ro=on][,id=SERIAL][,direct=on][,queues=N][,iodepth=N]\n"
    "  --console MODE       stdio (default), off, or a FILE to append output to\n"
    "  --control PATH       control socket (JSON lines: pause, resume, stop, status)\n"
    "  --config FILE.json   read options from a JSON object with the same keys\n"
    "  --no-seccomp         do not install seccomp filters (debugging)\n"
    "  --help, --version\n"
    "\n"
    "Exit status: 0 when the guest resets or powers off, 1 on any failure.\n";

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || errno || *s == '-' || v < min || v > max) {
		log_error("%s %s: expected a number from %llu to %llu", opt, s, (unsigned long long)min,
			  (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

static int set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
	if (!*dst) {
		log_errno(ENOMEM, "config");
		return -1;
	}
	return 0;
}

/* Apply one option by its long name (shared by flags and JSON keys). */
static int apply(struct vm_config *c, const char *key, const char *val)
{
	uint64_t n;
	char opt[64];
	snprintf(opt, sizeof(opt), "--%s", key);
	if (!strcmp(key, "kernel"))
		return set_str(&c->kernel, val);
	if (!strcmp(key, "initrd"))
		return set_str(&c->initrd, val);
	if (!strcmp(key, "cmdline"))
		return set_str(&c->cmdline, val);
	if (!strcmp(key, "cpus")) {
		if (parse_u64(opt, val, 1, VMM_MAX_CPUS, &n) < 0)
			return -1;
		c->cpus = (unsigned)n;
		return 0;
	}
	if (!strcmp(key, "mem")) {
		if (parse_u64(opt, val, 1, 1ull << 30, &n) < 0) {
			return -1;
		}
		c->mem_mib = n;
		return 0;
	}
	if (!strcmp(key, "vsock-uds") || !strcmp(key, "control")) {
		if (strlen(val) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			log_error("%s %s: socket path too long (%zu bytes, at most %zu)", opt, val,
				  strlen(val), sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return -1;
		}
		if (!*val) {
			log_error("%s: empty socket path", opt);
			return -1;
		}
		return set_str(key[0] == 'v' ? &c->vsock_uds : &c->control, val);
	}
	if (!strcmp(key, "vsock-listen-fd")) {
		if (parse_u64(opt, val, 3, INT32_MAX, &n) < 0)
			return -1;
		c->vsock_listen_fd = (int)n;
		return 0;
	}
	if (!strcmp(key, "vsock-cid")) {
		if (parse_u64(opt, val, 3, UINT32_MAX - 1, &n) < 0)
			return -1;
		c->vsock_cid = (unsigned)n;
		return 0;
	}
	if (!strcmp(key, "fs")) {
		const char *eq = strchr(val, '=');
		if (!eq || eq == val || !eq[1] || strchr(val, ',')) {
			log_error("--fs %s: expected TAG=DIR (no commas)", val);
			return -1;
		}
		if (c->n_fs == VMM_MAX_FS) {
			log_error("--fs %s: at most %d shares", val, VMM_MAX_FS);
			return -1;
		}
		c->fs[c->n_fs] = NULL;
		if (set_str(&c->fs[c->n_fs], val) < 0)
			return -1;
		c->n_fs++;
		return 0;
	}
	if (!strcmp(key, "net")) {
		/* the device checks the options themselves (before the VM runs) */
		if (!*val || *val == ',' || strstr(val, ",,")) {
			log_error("--net '%s': expected tapfd=N or tap=NAME, then [,mac=MAC][,mtu=N]", val);
			return -1;
		}
		if (c->n_net == VMM_MAX_NET) {
			log_error("--net %s: at most %d network devices", val, VMM_MAX_NET);
			return -1;
		}
		c->net[c->n_net] = NULL;
		if (set_str(&c->net[c->n_net], val) < 0)
			return -1;
		c->n_net++;
		return 0;
	}
	if (!strcmp(key, "drive")) {
		/* the device checks the options (and opens the image) before the VM runs */
		if (!*val || *val == ',' || strstr(val, ",,")) {
			log_error("--drive '%s': expected path=FILE or fd=N, then [,ro=on][,id=SERIAL]...",
				  val);
			return -1;
		}
		if (c->n_drive == VMM_MAX_DRIVES) {
			log_error("--drive %s: at most %d drives", val, VMM_MAX_DRIVES);
			return -1;
		}
		c->drive[c->n_drive] = NULL;
		if (set_str(&c->drive[c->n_drive], val) < 0)
			return -1;
		c->n_drive++;
		return 0;
	}
	if (!strcmp(key, "console")) {
		free(c->console_path);
		c->console_path = NULL;
		if (!strcmp(val, "stdio"))
			c->console = CONSOLE_STDIO;
		else if (!strcmp(val, "off"))
			c->console = CONSOLE_OFF;
		else if (!*val) {
			log_error("--console: expected stdio, off or a file name");
			return -1;
		} else {
			c->console = CONSOLE_FILE;
			return set_str(&c->console_path, val);
		}
		return 0;
	}
	if (!strcmp(key, "config"))
		return vm_config_load_json(c, val);
	log_error("%s: unknown option", opt);
	return -1;
}

static int apply_bool(struct vm_config *c, const char *key, bool v)
{
	if (!strcmp(key, "rng"))
		c->rng = v;
	else if (!strcmp(key, "hugepages"))
		c->hugepages = v;
	else if (!strcmp(key, "no-seccomp"))
		c->no_seccomp = v;
	else
		return 1;
	return 0;
}

static int json_depth;

int vm_config_load_json(struct vm_config *c, const char *path)
{
	char err[256] = "";
	FILE *f;
	if (json_depth > 0) {
		log_error("config %s: nested \"config\" is not allowed", path);
		return -1;
	}
	f = fopen(path, "re");
	if (!f) {
		log_errno(errno, "open config %s", path);
		return -1;
	}
	char *buf = malloc(1 << 20);
	size_t len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	bool too_big = buf && len == (1 << 20) - 1;
	fclose(f);
	if (!buf || too_big) {
		log_error("config %s: %s", path, buf ? "larger than 1 MiB" : "out of memory");
		free(buf);
		return -1;
	}
	buf[len] = 0;
	yajl_val root = yajl_tree_parse(buf, err, sizeof(err));
	free(buf);
	if (!root) {
		char *nl = strchr(err, '\n');
		if (nl)
			*nl = 0;
		log_error("config %s: invalid JSON: %s", path, err[0] ? err : "parse error");
		return -1;
	}
	int rc = -1;
	json_depth++;
	if (!YAJL_IS_OBJECT(root)) {
		log_error("config %s: expected a JSON object", path);
		goto out;
	}
	for (size_t i = 0; i < root->u.object.len; i++) {
		const char *k = root->u.object.keys[i];
		yajl_val v = root->u.object.values[i];
		char num[32];
		if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
			int r = apply_bool(c, k, YAJL_IS_TRUE(v));
			if (r == 0)
				continue;
			log_error("config %s: \"%s\": unknown boolean option", path, k);
			goto out;
		}
		if ((!strcmp(k, "fs") || !strcmp(k, "net") || !strcmp(k, "drive")) && YAJL_IS_ARRAY(v)) {
			for (size_t j = 0; j < v->u.array.len; j++) {
				if (!YAJL_IS_STRING(v->u.array.values[j])) {
					log_error("config %s: \"%s\": expected strings \"%s\"", path, k,
						  k[0] == 'f'	? "TAG=DIR"
						  : k[0] == 'd' ? "path=FILE,..."
								: "tapfd=N,...");
					goto out;
				}
				if (apply(c, k, YAJL_GET_STRING(v->u.array.values[j])) < 0)
					goto out;
			}
			continue;
		}
		const char *s;
		if (YAJL_IS_STRING(v)) {
			s = YAJL_GET_STRING(v);
		} else if (YAJL_IS_INTEGER(v)) {
			snprintf(num, sizeof(num), "%lld", YAJL_GET_INTEGER(v));
			s = num;
		} else {
			log_error("config %s: \"%s\": expected a string, number or boolean", path, k);
			goto out;
		}
		if (apply(c, k, s) < 0)
			goto out;
	}
	rc = 0;
out:
	json_depth--;
	yajl_tree_free(root);
	return rc;
}

int vm_config_parse(struct vm_config *c, int argc, char **argv)
{
	static const struct option opts[] = {{"kernel", required_argument, 0, 0},
					     {"initrd", required_argument, 0, 0},
					     {"cmdline", required_argument, 0, 0},
					     {"cpus", required_argument, 0, 0},
					     {"mem", required_argument, 0, 0},
					     {"vsock-uds", required_argument, 0, 0},
					     {"vsock-cid", required_argument, 0, 0},
					     {"vsock-listen-fd", required_argument, 0, 0},
					     {"fs", required_argument, 0, 0},
					     {"net", required_argument, 0, 0},
					     {"drive", required_argument, 0, 0},
					     {"console", required_argument, 0, 0},
					     {"control", required_argument, 0, 0},
					     {"config", required_argument, 0, 0},
					     {"rng", no_argument, 0, 0},
					     {"hugepages", no_argument, 0, 0},
					     {"no-seccomp", no_argument, 0, 0},
					     {"help", no_argument, 0, 'h'},
					     {"version", no_argument, 0, 'V'},
					     {0, 0, 0, 0}};
	memset(c, 0, sizeof(*c));
	c->cpus = 1;
	c->mem_mib = DEFAULT_MEM_MIB;
	c->vsock_cid = DEFAULT_CID;
	c->vsock_listen_fd = -1;
	c->console = CONSOLE_STDIO;
	opterr = 0;
	optind = 1;
	for (;;) {
		int idx = -1;
		int ch = getopt_long(argc, argv, "+hV", opts, &idx);
		if (ch == -1)
			break;
		if (ch == 'h') {
			fputs(usage, stdout);
			return 1;
		}
		if (ch == 'V') {
			printf("runm-vmm version %s\n", RUNM_VERSION);
			return 1;
		}
		if (ch == '?' || ch == ':') {
			const char *bad = argv[optind - 1];
			if (optopt && ch == ':')
				log_error("%s: missing argument", bad);
			else if (optopt)
				log_error("-%c: unknown option (see --help)", optopt);
			else
				log_error("%s: unknown option or missing argument (see --help)", bad);
			return -1;
		}
		const char *name = opts[idx].name;
		if (opts[idx].has_arg == no_argument) {
			apply_bool(c, name, true);
			continue;
		}
		if (apply(c, name, optarg) < 0)
			return -1;
	}
	if (optind < argc) {
		log_error("%s: unexpected argument (see --help)", argv[optind]);
		return -1;
	}
	if (!c->kernel) {
		log_error("--kernel is required (see --help)");
		return -1;
	}
	if (vm_planned_devices(c) > VMM_MAX_DEVICES) {
		log_error("%u virtio devices asked for (vsock, --fs, --rng, --net, --drive): at most %d",
			  vm_planned_devices(c), VMM_MAX_DEVICES);
		return -1;
	}
	return 0;
}

void vm_config_free(struct vm_config *c)
{
	free(c->kernel);
	free(c->initrd);
	free(c->cmdline);
	free(c->vsock_uds);
	for (unsigned i = 0; i < c->n_fs; i++)
		free(c->fs[i]);
	for (unsigned i = 0; i < c->n_net; i++)
		free(c->net[i]);
	for (unsigned i = 0; i < c->n_drive; i++)
		free(c->drive[i]);
	free(c->console_path);
	free(c->control);
	memset(c, 0, sizeof(*c));
}

unsigned vm_planned_devices(const struct vm_config *c)
{
	return (c->vsock_uds ? 1u : 0u) + c->n_fs + (c->rng ? 1u : 0u) + c->n_net + c->n_drive;
}
