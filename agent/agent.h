/* SPDX-License-Identifier: Apache-2.0 */
/* Umbrella for code outside agent/ (tests, fuzzers) and for branches written against the old
 * one-header agent: every module header.  Files in agent/ include the headers they use. */
#ifndef RUNM_AGENT_H
#define RUNM_AGENT_H

#include "base.h"
#include "cgroups.h"
#include "ctr.h"
#include "exit.h"
#include "hooks.h"
#include "init.h"
#include "net.h"
#include "oom.h"
#include "ops.h"
#include "proc.h"
#include "ps.h"
#include "server.h"
#include "setup.h"
#include "spec.h"
#include "streams.h"
#include "waiters.h"

#endif
