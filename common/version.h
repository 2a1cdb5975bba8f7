/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RUNM_COMMON_VERSION_H
#define RUNM_COMMON_VERSION_H
#define RUNM_VERSION	 "0.1.0"
#define RUNM_OCI_VERSION "1.1.0"
#endif
