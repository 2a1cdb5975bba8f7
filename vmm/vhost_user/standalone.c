/* SPDX-License-Identifier: Apache-2.0 */
/* runm-vhost-user: the vhost-user device server as its own program
 * (the same code as `runm-vmm vhost-user`). */
#include <string.h>

#include "log.h"
#include "vmm/vhost_user/vhost_user.h"

int main(int argc, char **argv)
{
	log_set_prog("runm-vhost-user");
	/* Accept both `runm-vhost-user ARGS` and `runm-vhost-user vhost-user ARGS`. */
	if (argc > 1 && strcmp(argv[1], "vhost-user") == 0)
		return vhost_user_main(argc - 1, argv + 1);
	return vhost_user_main(argc, argv);
}
