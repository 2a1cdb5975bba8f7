/* SPDX-License-Identifier: Apache-2.0 */
/* runm checkpoint / restore: not supported (a container's state lives in its microVM's
 * memory; CRIU cannot see it). Non-zero exit, also for --help, so engines probing with
 * `checkpoint --help` learn the truth. */
#include "log.h"
#include "runm.h"

int cmd_checkpoint(int argc, char **argv)
{
	log_error("checkpoint is not supported by runm: the container runs inside a microVM");
	return 1;
}

int cmd_restore(int argc, char **argv)
{
	log_error("restore is not supported by runm: the container runs inside a microVM");
	return 1;
}
