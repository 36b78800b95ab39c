/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUNNING_ON_VALGRIND for the suites that ctest -L valgrind runs under
 * memcheck: true there, 0 when valgrind.h is not installed. For the few
 * checks that measure the process (RSS, speed), which memcheck distorts.
 */
#ifndef AVTB_TEST_MEMCHECK_H
#define AVTB_TEST_MEMCHECK_H

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#endif
