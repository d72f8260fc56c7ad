/* clock.h: the clocks the shell reads: monotonic for intervals, real time for the wire. */
#ifndef WALPIPE_CLOCK_H
#define WALPIPE_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: for timeouts and intervals only. */
int64_t clock_mono_ms(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_wall_ms(void);

/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_wall_us(void);

#endif
