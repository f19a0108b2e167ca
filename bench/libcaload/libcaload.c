/*
 * libcaload: a load client for `cabridge bench-server` built on the EPICS
 * C client library (libca), so that cabridge can be measured with the same
 * client as the softIoc reference numbers of issue 3 (bench/caload uses the
 * project's Go client instead).
 *
 * README
 *
 *   Build (Debian ships libca but no CA headers and often no unversioned
 *   libca.so symlink, so the few prototypes used are declared below and the
 *   library is linked by its path):
 *
 *     gcc -O2 -Wall -o bin/libcaload bench/libcaload/libcaload.c \
 *         /usr/lib/x86_64-linux-gnu/libca.so.4.13.5 -lpthread
 *
 *   Run against a server (scripts/libcaload.sh starts bin/cabridge
 *   bench-server on loopback with private ports and does both steps):
 *
 *     EPICS_CA_AUTO_ADDR_LIST=NO EPICS_CA_ADDR_LIST=127.0.0.1:<port> \
 *     EPICS_CA_MAX_ARRAY_BYTES=100000000 bin/libcaload -p <server pid> \
 *         -n 1000,10000,100000
 *
 *   Options:
 *     -n LIST   comma-separated numbers of BENCH:ai PVs to connect
 *               (default 1000,10000,100000; also accepted as arguments)
 *     -r N      get rounds per N (default 7)
 *     -w SEC    monitor window in seconds (default 5)
 *     -m N      counters to subscribe, BENCH:calc00000.. (default 1000)
 *     -g N      waveform gets per DBR type (default 20)
 *     -e N      waveform elements to request (default 1000000)
 *     -t SEC    deadline of every single wait (default 60)
 *     -p PID    server process id: report its CPU during the monitor window
 *     -j        print JSON instead of the table
 *     -q        no progress lines on stderr
 *
 *   Phases, each in a fresh CA context with preemptive callbacks (the
 *   callbacks run on libca's receive thread and only count, check and
 *   record; the main thread waits on a condition variable with a deadline):
 *
 *   1. connect: create N channels BENCH:ai00000.. and time from the first
 *      ca_create_channel to the last connection callback;
 *   2. gets: with those N channels, rounds of ca_array_get_callback
 *      (DBR_TIME_DOUBLE, 1) on every channel, one ca_flush_io, time until
 *      every callback ran; best and median round. Each reply's value is
 *      checked against the PV's index;
 *   3. monitors: subscribe DBR_TIME_DOUBLE with DBE_VALUE|DBE_ALARM to the
 *      counters; once every initial update is in, count updates for the
 *      window; latency = CLOCK_REALTIME at the callback minus the update's
 *      EPICS stamp (seconds since 1990-01-01); median and p99;
 *   4. waveform: sequential ca_array_get_callback of BENCH:wf as DBR_DOUBLE
 *      and DBR_TIME_DOUBLE; MB/s counts the value bytes (1 MB = 1e6 B).
 *
 *   Every loop is bounded in count and every wait by the -t deadline. Exit
 *   status: 0 on success, 1 if a phase failed or timed out, 2 on usage.
 *
 *   Notes:
 *   - When nothing listens on EPICS_CA_REPEATER_PORT, libcaload runs a CA
 *     repeater on a thread of its own (libca's caRepeaterThread), so that
 *     libca does not try to spawn the caRepeater executable, which Debian's
 *     libca package does not ship, nor leave one running afterwards.
 *   - libca waits about 30 ms (its minimum round-trip estimate) before the
 *     first search of a new context, so the connect time of small N is
 *     mostly that client-side delay.
 *   - Server CPU comes from /proc/<pid>/stat in clock ticks (10 ms): over a
 *     5 s window its resolution is 0.2 % of a core.
 *   - The go test TestLibcaload in bench/caload builds this file and runs
 *     it briefly against an in-process server.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/*
 * The public libca API used here (cadef.h, db_access.h, caerr.h,
 * caeventmask.h of EPICS Base), declared by hand because the headers are
 * not installed. On Linux epicsStdCall is empty, chtype and the event
 * argument fields are long, and arrayElementCount is unsigned long.
 */
typedef struct oldChannelNotify *chid;
typedef struct oldSubscription *evid;
typedef long chtype;
typedef unsigned capri;

struct connection_handler_args {
	chid chid;
	long op;
};
typedef void caCh(struct connection_handler_args args);

struct event_handler_args {
	void *usr;
	chid chid;
	long type;
	long count;
	const void *dbr;
	int status;
};
typedef void caEventCallBackFunc(struct event_handler_args args);

enum ca_preemptive_callback_select {
	ca_disable_preemptive_callback,
	ca_enable_preemptive_callback
};

enum channel_state { cs_never_conn, cs_prev_conn, cs_conn, cs_closed };

extern int ca_context_create(enum ca_preemptive_callback_select select);
extern void ca_context_destroy(void);
extern int ca_create_channel(const char *name, caCh *conn, void *puser,
			     capri priority, chid *pchid);
extern int ca_clear_channel(chid ch);
extern int ca_array_get_callback(chtype type, unsigned long count, chid ch,
				 caEventCallBackFunc *func, void *arg);
extern int ca_create_subscription(chtype type, unsigned long count, chid ch,
				  long mask, caEventCallBackFunc *func,
				  void *arg, evid *pevid);
extern int ca_pend_event(double timeout);
extern int ca_flush_io(void);
extern enum channel_state ca_state(chid ch);
extern unsigned long ca_element_count(chid ch);
extern const char *ca_message(long status);
/* Not in cadef.h: the body of the caRepeater program, exported with C
 * linkage by libca (EPICS 3.14 and later). Weak, so that a libca without
 * it still links; libcaload then leaves the repeater to libca. */
extern void caRepeaterThread(void *unused) __attribute__((weak));

#define ECA_NORMAL 1
#define CA_OP_CONN_UP 6
#define DBR_DOUBLE 6
#define DBR_TIME_DOUBLE 20
#define DBE_VALUE 1
#define DBE_ALARM 4

/* struct dbr_time_double of db_access.h: 24 bytes, value at offset 16. */
struct time_double {
	int16_t status;
	int16_t severity;
	uint32_t secs; /* since 1990-01-01 00:00:00 UTC */
	uint32_t nsec;
	int32_t pad;
	double value;
};

#define EPICS_EPOCH_OFFSET 631152000.0 /* POSIX seconds at the EPICS epoch */
#define MAX_SIZES 16
#define MAX_ROUNDS 1000
#define MAX_WF_GETS 10000

struct options {
	long sizes[MAX_SIZES];
	int nsizes;
	int rounds;
	double window;
	long monitors;
	int wf_gets;
	unsigned long wf_elems;
	double timeout;
	long pid;
	int json;
	int quiet;
};

/*
 * A counter that callbacks increment and the main thread waits on until it
 * reaches a target, with a deadline. Only the callback that reaches the
 * target takes the mutex, so the hot path is one atomic add.
 */
struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	atomic_long done;
	atomic_long errors;
	long target;
};

static void waiter_init(struct waiter *w)
{
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, &attr);
	pthread_condattr_destroy(&attr);
	atomic_store(&w->done, 0);
	atomic_store(&w->errors, 0);
	w->target = 0;
}

static void waiter_destroy(struct waiter *w)
{
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
}

/* waiter_reset arms w for target events. No callback may be pending. */
static void waiter_reset(struct waiter *w, long target)
{
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->done, 0);
	atomic_store(&w->errors, 0);
	w->target = target;
	pthread_mutex_unlock(&w->mu);
}

static void waiter_add(struct waiter *w, int failed)
{
	if (failed)
		atomic_fetch_add(&w->errors, 1);
	if (atomic_fetch_add(&w->done, 1) + 1 == w->target) {
		pthread_mutex_lock(&w->mu);
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->mu);
	}
}

/* waiter_wait returns 0 once target events were counted, -1 on timeout. */
static int waiter_wait(struct waiter *w, double timeout)
{
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += (time_t)timeout;
	dl.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	int rc = 0;
	pthread_mutex_lock(&w->mu);
	while (atomic_load(&w->done) < w->target && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cond, &w->mu, &dl);
	int ok = atomic_load(&w->done) >= w->target;
	pthread_mutex_unlock(&w->mu);
	return ok ? 0 : -1;
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int quiet;

static void progress(const char *fmt, ...)
{
	if (quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "libcaload: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "libcaload: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* quantile of sorted v[0..n-1], nearest rank. */
static double quantile(const double *v, long n, double q)
{
	if (n <= 0)
		return 0;
	long i = (long)(q * (double)n + 0.5) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

/* ---- connect ---- */

static struct waiter conn_w;

static void on_connect(struct connection_handler_args a)
{
	(void)a.chid;
	if (a.op == CA_OP_CONN_UP)
		waiter_add(&conn_w, 0);
}

/*
 * connect_all creates n channels named fmt % (first+i) and waits until all
 * are connected. It returns the seconds from the first create to the last
 * connection, or -1.
 */
static double connect_all(chid *chans, long n, const char *fmt, double timeout)
{
	char name[64];
	waiter_reset(&conn_w, n);
	double t0 = mono_now();
	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof name, fmt, i);
		int st = ca_create_channel(name, on_connect, (void *)(intptr_t)i,
					   0, &chans[i]);
		if (st != ECA_NORMAL) {
			fail("ca_create_channel %s: %s", name, ca_message(st));
			return -1;
		}
	}
	ca_flush_io();
	if (waiter_wait(&conn_w, timeout) != 0) {
		long up = 0;
		for (long i = 0; i < n; i++)
			up += ca_state(chans[i]) == cs_conn;
		fail("connect: %ld of %ld channels (%s..) connected within %.0f s",
		     up, n, fmt, timeout);
		return -1;
	}
	return mono_now() - t0;
}

/* ---- gets ---- */

static struct waiter get_w;

static void on_get(struct event_handler_args a)
{
	int bad = a.status != ECA_NORMAL || a.dbr == NULL || a.count != 1 ||
		  a.type != DBR_TIME_DOUBLE;
	if (!bad) {
		const struct time_double *v = a.dbr;
		bad = v->value != (double)(intptr_t)a.usr;
	}
	waiter_add(&get_w, bad);
}

struct size_result {
	long n;
	double connect_s;
	double gets_best, gets_median; /* gets/s */
	int rounds;
	long get_errors;
};

static int measure_size(const struct options *o, long n, struct size_result *r)
{
	memset(r, 0, sizeof *r);
	r->n = n;
	chid *chans = calloc((size_t)n, sizeof *chans);
	double *rates = calloc((size_t)o->rounds, sizeof *rates);
	if (!chans || !rates) {
		fail("out of memory for %ld channels", n);
		free(chans);
		free(rates);
		return -1;
	}
	int rc = -1;
	int st = ca_context_create(ca_enable_preemptive_callback);
	if (st != ECA_NORMAL) {
		fail("ca_context_create: %s", ca_message(st));
		goto out;
	}
	progress("connect %ld PVs", n);
	r->connect_s = connect_all(chans, n, "BENCH:ai%05ld", o->timeout);
	if (r->connect_s < 0)
		goto destroy;
	progress("connected %ld PVs in %.3f s (%.0f/s)", n, r->connect_s,
		 (double)n / r->connect_s);
	for (int k = 0; k < o->rounds; k++) {
		waiter_reset(&get_w, n);
		double t0 = mono_now();
		for (long i = 0; i < n; i++) {
			st = ca_array_get_callback(DBR_TIME_DOUBLE, 1, chans[i],
						   on_get, (void *)(intptr_t)i);
			if (st != ECA_NORMAL) {
				fail("ca_array_get_callback: %s", ca_message(st));
				waiter_add(&get_w, 1);
			}
		}
		ca_flush_io();
		if (waiter_wait(&get_w, o->timeout) != 0) {
			fail("gets: %ld of %ld replies within %.0f s",
			     atomic_load(&get_w.done), n, o->timeout);
			goto destroy;
		}
		double dt = mono_now() - t0;
		rates[k] = (double)n / dt;
		r->get_errors += atomic_load(&get_w.errors);
		r->rounds++;
	}
	qsort(rates, (size_t)r->rounds, sizeof *rates, cmp_double);
	r->gets_best = rates[r->rounds - 1];
	r->gets_median = quantile(rates, r->rounds, 0.5);
	progress("gets with %ld in flight: best %.0f/s, median %.0f/s, %ld errors",
		 n, r->gets_best, r->gets_median, r->get_errors);
	rc = r->get_errors == 0 ? 0 : -1;
	if (rc)
		fail("gets: %ld bad replies", r->get_errors);
destroy:
	ca_context_destroy();
out:
	free(chans);
	free(rates);
	return rc;
}

/* ---- monitors ---- */

static struct waiter init_w;  /* first update of every subscription */
static atomic_int recording; /* 1 while the window is open */
static atomic_long recorded; /* updates seen in the window */
static atomic_long mon_errors;
static double *latencies;    /* ms, one per update in the window */
static long latency_cap;
static atomic_uchar *seen;   /* per counter: initial update received */

static void on_update(struct event_handler_args a)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	long idx = (long)(intptr_t)a.usr;
	if (a.status != ECA_NORMAL || a.dbr == NULL || a.count != 1) {
		atomic_fetch_add(&mon_errors, 1);
		return;
	}
	if (!atomic_exchange(&seen[idx], 1))
		waiter_add(&init_w, 0);
	if (!atomic_load(&recording))
		return;
	const struct time_double *v = a.dbr;
	double stamp = (double)v->secs + EPICS_EPOCH_OFFSET + (double)v->nsec * 1e-9;
	double recv = (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
	long i = atomic_fetch_add(&recorded, 1);
	if (i < latency_cap)
		latencies[i] = (recv - stamp) * 1e3;
}

struct monitor_result {
	long subscriptions;
	long updates;
	double window_s;
	double rate;
	double lat_median_ms, lat_p99_ms, lat_max_ms;
	double server_cpu_pct; /* -1 if unknown */
	long errors;
};

/* proc_cpu returns utime+stime of pid in seconds, or -1. */
static double proc_cpu(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = 0;
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p)
		return -1;
	unsigned long utime, stime;
	/* fields after ")": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static int measure_monitors(const struct options *o, struct monitor_result *r)
{
	long m = o->monitors;
	memset(r, 0, sizeof *r);
	r->server_cpu_pct = -1;
	chid *chans = calloc((size_t)m, sizeof *chans);
	seen = calloc((size_t)m, sizeof *seen);
	latency_cap = (long)(o->window * 20.0 * (double)m) + 1000;
	latencies = malloc((size_t)latency_cap * sizeof *latencies);
	int rc = -1;
	if (!chans || !seen || !latencies) {
		fail("out of memory for %ld monitors", m);
		goto out;
	}
	atomic_store(&recording, 0);
	atomic_store(&recorded, 0);
	atomic_store(&mon_errors, 0);
	int st = ca_context_create(ca_enable_preemptive_callback);
	if (st != ECA_NORMAL) {
		fail("ca_context_create: %s", ca_message(st));
		goto out;
	}
	progress("subscribe to %ld counters", m);
	if (connect_all(chans, m, "BENCH:calc%05ld", o->timeout) < 0)
		goto destroy;
	waiter_reset(&init_w, m);
	for (long i = 0; i < m; i++) {
		st = ca_create_subscription(DBR_TIME_DOUBLE, 1, chans[i],
					    DBE_VALUE | DBE_ALARM, on_update,
					    (void *)(intptr_t)i, NULL);
		if (st != ECA_NORMAL) {
			fail("ca_create_subscription: %s", ca_message(st));
			goto destroy;
		}
	}
	ca_flush_io();
	if (waiter_wait(&init_w, o->timeout) != 0) {
		fail("monitors: %ld of %ld initial updates within %.0f s",
		     atomic_load(&init_w.done), m, o->timeout);
		goto destroy;
	}
	r->subscriptions = m;
	double cpu0 = o->pid > 0 ? proc_cpu(o->pid) : -1;
	double t0 = mono_now();
	atomic_store(&recording, 1);
	/* The window itself: with preemptive callbacks this only sleeps while
	 * the receive thread runs the callbacks. Bounded: at most -w s plus
	 * 100 pends of slack if the sleep returns early. */
	for (int k = 0; k < 100; k++) {
		double left = o->window - (mono_now() - t0);
		if (left <= 0)
			break;
		ca_pend_event(left);
	}
	atomic_store(&recording, 0);
	double t1 = mono_now();
	double cpu1 = o->pid > 0 ? proc_cpu(o->pid) : -1;
	r->window_s = t1 - t0;
	r->updates = atomic_load(&recorded);
	r->rate = (double)r->updates / r->window_s;
	if (cpu0 >= 0 && cpu1 >= 0)
		r->server_cpu_pct = (cpu1 - cpu0) / r->window_s * 100.0;
	long nl = r->updates < latency_cap ? r->updates : latency_cap;
	qsort(latencies, (size_t)nl, sizeof *latencies, cmp_double);
	r->lat_median_ms = quantile(latencies, nl, 0.5);
	r->lat_p99_ms = quantile(latencies, nl, 0.99);
	r->lat_max_ms = nl > 0 ? latencies[nl - 1] : 0;
	r->errors = atomic_load(&mon_errors);
	progress("monitors: %.0f updates/s, latency median %.3f ms, p99 %.3f ms",
		 r->rate, r->lat_median_ms, r->lat_p99_ms);
	rc = r->errors == 0 && r->updates > 0 ? 0 : -1;
	if (rc)
		fail("monitors: %ld updates, %ld errors", r->updates, r->errors);
destroy:
	ca_context_destroy();
out:
	free(chans);
	free(seen);
	free(latencies);
	seen = NULL;
	latencies = NULL;
	return rc;
}

/* ---- waveform ---- */

static struct waiter wf_w;
static unsigned long wf_want;

static void on_wf(struct event_handler_args a)
{
	int bad = a.status != ECA_NORMAL || a.dbr == NULL ||
		  (unsigned long)a.count != wf_want;
	if (!bad) {
		/* BENCH:wf holds 0, 1, 2, ...: check the last element. */
		const double *v = a.type == DBR_TIME_DOUBLE
			? &((const struct time_double *)a.dbr)->value
			: a.dbr;
		bad = v[wf_want - 1] != (double)(wf_want - 1);
	}
	waiter_add(&wf_w, bad);
}

struct wf_result {
	const char *type;
	unsigned long elems;
	int gets;
	double best_mbs, median_mbs;
};

static int measure_waveform(const struct options *o, struct wf_result r[2])
{
	static const struct {
		const char *name;
		chtype type;
	} types[2] = {{"DBR_DOUBLE", DBR_DOUBLE}, {"DBR_TIME_DOUBLE", DBR_TIME_DOUBLE}};
	double *rates = calloc((size_t)o->wf_gets, sizeof *rates);
	if (!rates)
		return -1;
	memset(r, 0, 2 * sizeof *r);
	int rc = -1;
	chid ch;
	int st = ca_context_create(ca_enable_preemptive_callback);
	if (st != ECA_NORMAL) {
		fail("ca_context_create: %s", ca_message(st));
		goto out;
	}
	if (connect_all(&ch, 1, "BENCH:wf", o->timeout) < 0)
		goto destroy;
	if (ca_element_count(ch) < o->wf_elems) {
		fail("BENCH:wf has %lu elements, want %lu", ca_element_count(ch),
		     o->wf_elems);
		goto destroy;
	}
	wf_want = o->wf_elems;
	for (int t = 0; t < 2; t++) {
		r[t].type = types[t].name;
		r[t].elems = o->wf_elems;
		progress("waveform: %d gets of %lu elements as %s", o->wf_gets,
			 o->wf_elems, types[t].name);
		for (int k = 0; k < o->wf_gets; k++) {
			waiter_reset(&wf_w, 1);
			double t0 = mono_now();
			st = ca_array_get_callback(types[t].type, o->wf_elems, ch,
						   on_wf, NULL);
			if (st != ECA_NORMAL) {
				fail("ca_array_get_callback BENCH:wf: %s (is "
				     "EPICS_CA_MAX_ARRAY_BYTES large enough?)",
				     ca_message(st));
				goto destroy;
			}
			ca_flush_io();
			if (waiter_wait(&wf_w, o->timeout) != 0) {
				fail("waveform: no reply within %.0f s", o->timeout);
				goto destroy;
			}
			if (atomic_load(&wf_w.errors)) {
				fail("waveform: bad reply");
				goto destroy;
			}
			double dt = mono_now() - t0;
			rates[k] = (double)o->wf_elems * 8.0 / dt / 1e6;
			r[t].gets++;
		}
		qsort(rates, (size_t)r[t].gets, sizeof *rates, cmp_double);
		r[t].best_mbs = rates[r[t].gets - 1];
		r[t].median_mbs = quantile(rates, r[t].gets, 0.5);
		progress("waveform %s: best %.0f MB/s, median %.0f MB/s",
			 types[t].name, r[t].best_mbs, r[t].median_mbs);
	}
	rc = 0;
destroy:
	ca_context_destroy();
out:
	free(rates);
	return rc;
}

/* ---- repeater ---- */

/* udp_port_free reports whether 127.0.0.1:port can be bound for UDP, i.e.
 * no CA repeater listens there (the test libca itself makes). */
static int udp_port_free(int port)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		return 0;
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	int ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
	close(s);
	return ok;
}

static void *repeater_main(void *arg)
{
	caRepeaterThread(arg); /* never returns; dies with the process */
	return NULL;
}

/*
 * start_repeater runs a CA repeater on a thread of this process when none
 * listens on EPICS_CA_REPEATER_PORT, so that libca neither tries to spawn
 * the caRepeater executable (which Debian's libca package lacks) nor
 * leaves one running after the benchmark. Bounded: waits at most 1 s for
 * the repeater to bind.
 */
static void start_repeater(void)
{
	const char *env = getenv("EPICS_CA_REPEATER_PORT");
	int port = env && *env ? atoi(env) : 5065;
	if (!caRepeaterThread || port <= 0 || port > 65535 || !udp_port_free(port))
		return;
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&th, &attr, repeater_main, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		return;
	for (int k = 0; k < 200 && udp_port_free(port); k++) {
		struct timespec d = {0, 5000000};
		nanosleep(&d, NULL);
	}
}

/* ---- warm-up, options, output ---- */

/* wait_ready connects BENCH:ao once, so that the first measured connect
 * does not include the server's start-up. */
static int wait_ready(double timeout)
{
	chid ch;
	int st = ca_context_create(ca_enable_preemptive_callback);
	if (st != ECA_NORMAL) {
		fail("ca_context_create: %s", ca_message(st));
		return -1;
	}
	int rc = connect_all(&ch, 1, "BENCH:ao", timeout) < 0 ? -1 : 0;
	ca_context_destroy();
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: libcaload [-j] [-q] [-n N,N,...] [-r rounds] [-w window_s] "
		"[-m monitors] [-g wf_gets] [-e wf_elems] [-t timeout_s] [-p server_pid] "
		"[N ...]\n");
}

static int parse_sizes(struct options *o, const char *s)
{
	char *dup = strdup(s), *save = NULL;
	if (!dup)
		return -1;
	for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long v = strtol(tok, &end, 10);
		if (*end || v <= 0 || v > 100000 || o->nsizes >= MAX_SIZES) {
			fprintf(stderr, "libcaload: bad PV count %s (1..100000, at most %d counts)\n",
				tok, MAX_SIZES);
			free(dup);
			return -1;
		}
		o->sizes[o->nsizes++] = v;
	}
	free(dup);
	return 0;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == 0 || *end || v < lo || v > hi) {
		fprintf(stderr, "libcaload: bad number %s (%ld..%ld)\n", s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (*s == 0 || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "libcaload: bad number %s (%g..%g)\n", s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof *o);
	o->rounds = 7;
	o->window = 5;
	o->monitors = 1000;
	o->wf_gets = 20;
	o->wf_elems = 1000000;
	o->timeout = 60;
	long v;
	int c;
	while ((c = getopt(argc, argv, "jqn:r:w:m:g:e:t:p:h")) != -1) {
		switch (c) {
		case 'j': o->json = 1; break;
		case 'q': o->quiet = 1; break;
		case 'n':
			if (parse_sizes(o, optarg)) return -1;
			break;
		case 'r':
			if (parse_long(optarg, 1, MAX_ROUNDS, &v)) return -1;
			o->rounds = (int)v;
			break;
		case 'w':
			if (parse_double(optarg, 0.1, 3600, &o->window)) return -1;
			break;
		case 'm':
			if (parse_long(optarg, 1, 1000, &o->monitors)) return -1;
			break;
		case 'g':
			if (parse_long(optarg, 0, MAX_WF_GETS, &v)) return -1;
			o->wf_gets = (int)v;
			break;
		case 'e':
			if (parse_long(optarg, 1, 1000000, &v)) return -1;
			o->wf_elems = (unsigned long)v;
			break;
		case 't':
			if (parse_double(optarg, 0.1, 3600, &o->timeout)) return -1;
			break;
		case 'p':
			if (parse_long(optarg, 1, 1L << 30, &o->pid)) return -1;
			break;
		default:
			return -1;
		}
	}
	for (int i = optind; i < argc; i++)
		if (parse_sizes(o, argv[i]))
			return -1;
	if (o->nsizes == 0) {
		o->sizes[0] = 1000;
		o->sizes[1] = 10000;
		o->sizes[2] = 100000;
		o->nsizes = 3;
	}
	return 0;
}

static void print_table(const struct options *o, const struct size_result *sr,
			int nsr, const struct monitor_result *mr, int have_mr,
			const struct wf_result *wr, int have_wr)
{
	printf("libcaload (libca client) against %s\n\n",
	       getenv("EPICS_CA_ADDR_LIST") ? getenv("EPICS_CA_ADDR_LIST") : "?");
	printf("%-62s %s\n", "Measurement", "Result");
	for (int i = 0; i < nsr; i++) {
		char label[64];
		snprintf(label, sizeof label, "search + connect %ld PVs", sr[i].n);
		printf("%-62s %.4f s (%.0f k/s)\n", label, sr[i].connect_s,
		       (double)sr[i].n / sr[i].connect_s / 1e3);
	}
	for (int i = 0; i < nsr; i++) {
		char label[64];
		snprintf(label, sizeof label, "gets/s, %ld in flight (best / median of %d)",
			 sr[i].n, sr[i].rounds);
		printf("%-62s %.2f M / %.2f M\n", label, sr[i].gets_best / 1e6,
		       sr[i].gets_median / 1e6);
	}
	if (have_mr) {
		char label[64];
		snprintf(label, sizeof label, "monitor updates/s, %ld counters", mr->subscriptions);
		printf("%-62s %.0f (%ld in %.2f s)\n", label, mr->rate, mr->updates, mr->window_s);
		printf("%-62s %.3f ms / %.3f ms (max %.3f)\n",
		       "stamp-to-client latency, median / p99", mr->lat_median_ms,
		       mr->lat_p99_ms, mr->lat_max_ms);
		if (mr->server_cpu_pct >= 0)
			printf("%-62s %.2f %% of a core\n", "server CPU during monitors",
			       mr->server_cpu_pct);
	}
	if (have_wr) {
		for (int t = 0; t < 2; t++) {
			char label[80];
			snprintf(label, sizeof label, "waveform %lu doubles, %s (best / median of %d)",
				 wr[t].elems, wr[t].type, wr[t].gets);
			printf("%-62s %.2f GB/s / %.2f GB/s\n", label, wr[t].best_mbs / 1e3,
			       wr[t].median_mbs / 1e3);
		}
	}
	(void)o;
}

static void print_json(const struct size_result *sr, int nsr,
		       const struct monitor_result *mr, int have_mr,
		       const struct wf_result *wr, int have_wr, int ok)
{
	printf("{\n  \"client\": \"libca\",\n  \"ok\": %s,\n  \"sizes\": [", ok ? "true" : "false");
	for (int i = 0; i < nsr; i++)
		printf("%s\n    {\"n\": %ld, \"connect_seconds\": %.6f, \"connects_per_second\": %.0f, "
		       "\"get_rounds\": %d, \"gets_per_second_best\": %.0f, "
		       "\"gets_per_second_median\": %.0f, \"get_errors\": %ld}",
		       i ? "," : "", sr[i].n, sr[i].connect_s, (double)sr[i].n / sr[i].connect_s,
		       sr[i].rounds, sr[i].gets_best, sr[i].gets_median, sr[i].get_errors);
	printf("\n  ]");
	if (have_mr) {
		printf(",\n  \"monitors\": {\"subscriptions\": %ld, \"updates\": %ld, "
		       "\"window_seconds\": %.3f, \"updates_per_second\": %.1f, "
		       "\"latency_median_ms\": %.4f, \"latency_p99_ms\": %.4f, "
		       "\"latency_max_ms\": %.4f, \"errors\": %ld",
		       mr->subscriptions, mr->updates, mr->window_s, mr->rate,
		       mr->lat_median_ms, mr->lat_p99_ms, mr->lat_max_ms, mr->errors);
		if (mr->server_cpu_pct >= 0)
			printf(", \"server_cpu_percent\": %.3f", mr->server_cpu_pct);
		printf("}");
	}
	if (have_wr) {
		printf(",\n  \"waveform\": [");
		for (int t = 0; t < 2; t++)
			printf("%s\n    {\"type\": \"%s\", \"elements\": %lu, \"gets\": %d, "
			       "\"mb_per_second_best\": %.1f, \"mb_per_second_median\": %.1f}",
			       t ? "," : "", wr[t].type, wr[t].elems, wr[t].gets,
			       wr[t].best_mbs, wr[t].median_mbs);
		printf("\n  ]");
	}
	printf("\n}\n");
}

int main(int argc, char **argv)
{
	struct options o;
	if (parse_args(argc, argv, &o)) {
		usage();
		return 2;
	}
	quiet = o.quiet;
	waiter_init(&conn_w);
	waiter_init(&get_w);
	waiter_init(&init_w);
	waiter_init(&wf_w);

	struct size_result sr[MAX_SIZES];
	struct monitor_result mr;
	struct wf_result wr[2];
	int nsr = 0, have_mr = 0, have_wr = 0, ok = 1;

	start_repeater();
	if (wait_ready(o.timeout) != 0) {
		fail("server not answering (BENCH:ao); check EPICS_CA_ADDR_LIST");
		return 1;
	}
	for (int i = 0; i < o.nsizes && ok; i++) {
		if (measure_size(&o, o.sizes[i], &sr[nsr]) != 0)
			ok = 0;
		else
			nsr++;
	}
	if (ok) {
		if (measure_monitors(&o, &mr) != 0)
			ok = 0;
		else
			have_mr = 1;
	}
	if (ok && o.wf_gets > 0) {
		if (measure_waveform(&o, wr) != 0)
			ok = 0;
		else
			have_wr = 1;
	}
	if (o.json)
		print_json(sr, nsr, &mr, have_mr, wr, have_wr, ok);
	else
		print_table(&o, sr, nsr, &mr, have_mr, wr, have_wr);
	waiter_destroy(&conn_w);
	waiter_destroy(&get_w);
	waiter_destroy(&init_w);
	waiter_destroy(&wf_w);
	return ok ? 0 : 1;
}
