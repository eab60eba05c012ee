// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tcpkeep: one long-lived TCP connection, one request line at a time.
 *
 *   tcpkeep ADDR PORT [--count N] [--interval-ms N] [--timeout-ms N]
 *
 * Connects once to ADDR:PORT, then N times: sends "ping\n", waits for one
 * reply line (at most --timeout-ms, default 2000) and prints it, then sleeps
 * --interval-ms (default 100). Against `podsrv --echo` through a ClusterIP
 * every line names the pod the connection landed on. Exit 0 when all N
 * replies came, 1 at the first error (reason on stderr: reset, closed,
 * timeout), 2 on misuse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
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

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Reads one line into buf (without the "\n"). 0, or -errno / -ETIMEDOUT / -ECONNABORTED (EOF). */
static int read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = end - now_ms();
		ssize_t n;
		char c;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ETIMEDOUT;
		/* Byte by byte: replies are short and nothing after the line is lost. */
		n = recv(fd, &c, 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNABORTED;
		if (c == '\n') {
			buf[len] = '\0';
			return 0;
		}
		if (len < size - 1)
			buf[len++] = c;
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: tcpkeep ADDR PORT [--count N] [--interval-ms N] [--timeout-ms N]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sockaddr_in dst = { .sin_family = AF_INET };
	long count = 1, interval_ms = 100, timeout_ms = 2000, port;
	struct timespec ts;
	char line[256];
	int opt, fd, err;

	while ((opt = getopt_long(argc, argv, "c:i:t:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			count = parse_num(optarg, 1, 1000000);
			break;
		case 'i':
			interval_ms = parse_num(optarg, 0, 60000);
			break;
		case 't':
			timeout_ms = parse_num(optarg, 1, 600000);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2 || count < 0 || interval_ms < 0 || timeout_ms < 0) {
		usage(stderr);
		return 2;
	}
	port = parse_num(argv[optind + 1], 1, 65535);
	if (inet_pton(AF_INET, argv[optind], &dst.sin_addr) != 1 || port < 0) {
		fprintf(stderr, "tcpkeep: bad address or port: %s %s\n", argv[optind], argv[optind + 1]);
		return 2;
	}
	dst.sin_port = htons(port);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		fprintf(stderr, "tcpkeep: connect %s:%ld: %s\n", argv[optind], port, strerror(errno));
		return 1;
	}
	for (long i = 0; i < count; i++) {
		if (i && interval_ms) {
			ts.tv_sec = interval_ms / 1000;
			ts.tv_nsec = (interval_ms % 1000) * 1000000L;
			nanosleep(&ts, NULL);
		}
		if (send(fd, "ping\n", 5, MSG_NOSIGNAL) != 5) {
			fprintf(stderr, "tcpkeep: request %ld: send: %s\n", i + 1, strerror(errno));
			return 1;
		}
		err = read_line(fd, line, sizeof(line), (int)timeout_ms);
		if (err) {
			fprintf(stderr, "tcpkeep: request %ld: %s\n", i + 1,
				err == -ECONNABORTED ? "connection closed by the peer" : strerror(-err));
			return 1;
		}
		printf("%s\n", line);
		fflush(stdout);
	}
	close(fd);
	return 0;
}
