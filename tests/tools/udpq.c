// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * udpq: one UDP question, one answer.
 *
 *   udpq ADDR PORT [--timeout-ms N] [--count N] [--msg TEXT] [--same-socket]
 *        [--interval-ms N] [--local-port P]
 *
 * --local-port P: query i comes from local port P + i (a port range the
 * kernel does not hand out keeps the flows new).
 *
 * Each query uses a new socket connect()ed to ADDR:PORT, so a new source port
 * (with --same-socket all use one: one flow), and the kernel only delivers
 * replies whose source is exactly ADDR:PORT:
 * an answer through a ClusterIP proves that the reply was translated back.
 * Prints each reply on its own line. Exit 0 if every query was answered,
 * 1 if any timed out or failed (reason on stderr), 2 on misuse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long parse_num(const char *s, long min, long max)
{
	char *end;
	long v = strtol(s, &end, 10);

	return (*s && !*end && v >= min && v <= max) ? v : -1;
}

/* A socket connected to dst, from local port lport (0: any). */
static int open_socket(const struct sockaddr_in *dst, long lport)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons((uint16_t)lport) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if ((lport && bind(fd, (const struct sockaddr *)&src, sizeof(src)) < 0) ||
	    connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* On a connected socket: returns 0 and prints the reply, or -errno
 * (-ETIMEDOUT when none came). */
static int query(int fd, const char *msg, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[2048];
	ssize_t n;
	int err = 0;

	if (send(pfd.fd, msg, strlen(msg), 0) < 0) {
		err = -errno;
		goto out;
	}
	n = poll(&pfd, 1, timeout_ms);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	if (n == 0) {
		err = -ETIMEDOUT;
		goto out;
	}
	n = recv(pfd.fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n < 0) {
		err = -errno; /* e.g. ECONNREFUSED from an ICMP port unreachable */
		goto out;
	}
	buf[n] = '\0';
	fputs(buf, stdout);
	if (n == 0 || buf[n - 1] != '\n')
		fputc('\n', stdout);
	fflush(stdout);
out:
	return err;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: udpq ADDR PORT [--timeout-ms N] [--count N] [--msg TEXT] [--same-socket] "
		"[--interval-ms N] [--local-port P]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "msg", required_argument, NULL, 'm' },
		{ "same-socket", no_argument, NULL, 's' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "local-port", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sockaddr_in dst = { .sin_family = AF_INET };
	long timeout_ms = 1000, count = 1, interval_ms = 0, lport = 0, port;
	const char *msg = "ping";
	int opt, i, failed = 0, fd = -1;
	bool same = false;

	while ((opt = getopt_long(argc, argv, "t:c:m:si:l:h", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			timeout_ms = parse_num(optarg, 1, 600000);
			break;
		case 'c':
			count = parse_num(optarg, 1, 100000);
			break;
		case 'm':
			msg = optarg;
			break;
		case 's':
			same = true;
			break;
		case 'i':
			interval_ms = parse_num(optarg, 0, 60000);
			break;
		case 'l':
			lport = parse_num(optarg, 1, 65535);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2 || timeout_ms < 0 || count < 0 || interval_ms < 0 || lport < 0 ||
	    lport + count - 1 > 65535) {
		usage(stderr);
		return 2;
	}
	port = parse_num(argv[optind + 1], 1, 65535);
	if (inet_pton(AF_INET, argv[optind], &dst.sin_addr) != 1 || port < 0) {
		fprintf(stderr, "udpq: bad address or port: %s %s\n", argv[optind], argv[optind + 1]);
		return 2;
	}
	dst.sin_port = htons(port);

	for (i = 0; i < count; i++) {
		struct timespec pause = { interval_ms / 1000, interval_ms % 1000 * 1000000L };
		int err = 0;

		if (i && interval_ms)
			nanosleep(&pause, NULL); /* the client's pace, not a wait for a condition */
		if (fd < 0 || !same)
			fd = open_socket(&dst, lport ? lport + (same ? 0 : i) : 0);
		if (fd < 0)
			err = fd;
		else
			err = query(fd, msg, (int)timeout_ms);
		if (fd >= 0 && !same) {
			close(fd);
			fd = -1;
		}

		if (err == -ETIMEDOUT) {
			fprintf(stderr, "udpq: no reply from %s:%ld within %ld ms\n", argv[optind],
				port, timeout_ms);
			failed++;
		} else if (err) {
			fprintf(stderr, "udpq: %s:%ld: %s\n", argv[optind], port, strerror(-err));
			failed++;
		}
	}
	if (fd >= 0)
		close(fd);
	return failed ? 1 : 0;
}
