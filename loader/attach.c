// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attach.h"
#include "xdpsvc.h"
#include "xdp.skel.h"
#include "tc.skel.h"

#define XS_XDP_PROG_NAME "xs_xdp_ingress"
#define XS_POD_PROG_NAME "xs_tc_pod"
/* Our cls_bpf filters on the clsact hooks: a fixed handle and priority, so
 * attach replaces them in place and detach finds them. */
#define XS_TC_HANDLE 0x5853
#define XS_TC_PRIO 1

static bool libbpf_verbose;
/* While set (and not verbose), libbpf's messages are kept out of stderr: a
 * query that may fail, or a step whose failure we report ourselves, in one
 * sentence that includes the kernel's own message (kernel_msg). */
static bool libbpf_quiet;
static char kernel_msg[256];
#define KERNEL_MSG_PREFIX "libbpf: Kernel error message: "

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && !libbpf_verbose))
		return 0;
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (libbpf_quiet && !libbpf_verbose) {
		if (!strncmp(msg, KERNEL_MSG_PREFIX, strlen(KERNEL_MSG_PREFIX))) {
			snprintf(kernel_msg, sizeof(kernel_msg), "%.200s", msg + strlen(KERNEL_MSG_PREFIX));
			kernel_msg[strcspn(kernel_msg, "\n")] = 0;
		}
		return 0;
	}
	/* bpf_tc_hook_create() on an existing clsact qdisc: expected, not news. */
	if (!libbpf_verbose && strstr(msg, "Exclusivity flag on"))
		return 0;
	return fputs(msg, stderr);
}

void xs_libbpf_logging(bool verbose)
{
	libbpf_verbose = verbose;
	libbpf_set_print(libbpf_print);
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

static bool has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

/*
 * Say early, in one sentence, what a process without the capabilities gets
 * wrong, instead of an EPERM/EACCES from deep inside (bpf(), netlink, statfs
 * of a 0700 pin directory). attach and detach load or attach programs:
 * CAP_NET_ADMIN and CAP_BPF (or CAP_SYS_ADMIN); the other commands read or
 * write the pinned maps: CAP_BPF or CAP_SYS_ADMIN. Mounting a bpffs also
 * needs CAP_SYS_ADMIN; that is said where it happens.
 */
int xs_check_privileges(const char *cmd)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	bool progs = cmd && (!strcmp(cmd, "attach") || !strcmp(cmd, "detach") || !strcmp(cmd, "attach-pod") ||
			     !strcmp(cmd, "detach-pod"));
	bool bpf, net;

	if (syscall(SYS_capget, &h, d))
		return 0; /* cannot tell: the kernel will say */
	bpf = has_cap(d, CAP_BPF) || has_cap(d, CAP_SYS_ADMIN);
	net = !progs || has_cap(d, CAP_NET_ADMIN);
	if (bpf && net)
		return 0;
	fprintf(stderr, "xdpsvc%s%s: this process lacks %s%s%s, which %s needs: run xdpsvc as root\n",
		cmd ? " " : "", cmd ?: "", bpf ? "" : "CAP_BPF (or CAP_SYS_ADMIN)", bpf || net ? "" : " and ",
		net ? "" : "CAP_NET_ADMIN",
		progs ? "loading and attaching the BPF programs" : "using the pinned BPF maps");
	return -EPERM;
}

/* Is dir a directory with something in it? */
static bool dir_has_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool any = false;

	if (!d)
		return false;
	while (!any && (e = readdir(d)))
		any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return any;
}

static const char *netns_hint(const char *pin)
{
	return strncmp(pin, "/sys/fs/bpf", 11) ? "" :
	       " (note that 'ip netns exec' hides /sys/fs/bpf: use --pin-path on a bpffs mounted outside /sys)";
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The state is root's alone: 0700 whatever the umask or whoever made the
 * directory (bpf_obj_pin creates the pins 0600). */
static int make_private(const char *pin)
{
	int err;

	if (!chmod(pin, 0700))
		return 0;
	err = -errno;
	fprintf(stderr, "xdpsvc: cannot make %s private (mode 0700): %s\n", pin, strerror(-err));
	return err;
}

int xs_pin_dir_lock(const char *pin)
{
	int fd = open(pin, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	/* Serialise writers of one pin directory (xdp-tools lib/util/util.c). */
	if (fd < 0 || flock(fd, LOCK_EX)) {
		int err = -errno;

		fprintf(stderr, "xdpsvc: cannot lock %s: %s\n", pin, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	return fd;
}

int xs_pin_dir_ensure(const char *pin, bool create)
{
	char parent[PATH_MAX];
	struct stat st;
	int err;

	/* Without the capabilities the checks below would fail for the wrong
	 * reason (a root-only pin directory cannot even be looked at). */
	err = xs_check_privileges(create ? "attach" : NULL);
	if (err)
		return err;
	if (is_bpffs(pin)) {
		if (stat(pin, &st) || S_ISDIR(st.st_mode))
			return create ? make_private(pin) : 0;
		fprintf(stderr, "xdpsvc: %s is a file, not a pin directory: pass the --pin-path "
			"that 'xdpsvc attach' used\n", pin);
		return -ENOTDIR;
	}
	if (!create) {
		if (stat(pin, &st))
			fprintf(stderr, "xdpsvc: no xdpsvc state under %s (no such directory): run "
				"'xdpsvc attach DEV' first%s\n", pin, netns_hint(pin));
		else
			fprintf(stderr, "xdpsvc: %s is not on a bpffs, so it holds no xdpsvc state: pass the "
				"--pin-path that 'xdpsvc attach' used (a directory on a bpffs)%s\n", pin,
				netns_hint(pin));
		return -ENOENT;
	}
	if (snprintf(parent, sizeof(parent), "%s", pin) >= (int)sizeof(parent))
		return -ENAMETOOLONG;
	dirname(parent);
	if (!is_bpffs(parent)) {
		/* A bpffs mounted there would hide what the directory holds. */
		if (dir_has_entries(parent)) {
			fprintf(stderr, "xdpsvc: %s is not on a bpffs and its parent %s is a non-empty "
				"directory, which xdpsvc will not hide under a new bpffs: pass a --pin-path on "
				"a bpffs, or mount one first (mount -t bpf bpf DIR)%s\n", pin, parent,
				netns_hint(pin));
			return -ENOTEMPTY;
		}
		err = mkdir_p(parent, 0700);
		if (!err && mount("bpf", parent, "bpf", 0, "mode=0700"))
			err = -errno;
		if (err) {
			fprintf(stderr, "xdpsvc: %s is not on a bpffs and mounting one on %s failed: %s%s\n",
				pin, parent, strerror(-err),
				err == -EPERM ? " (mounting needs CAP_SYS_ADMIN: run xdpsvc as root)" : "");
			return err;
		}
		fprintf(stderr, "xdpsvc: note: there was no bpffs at %s; mounted one there\n", parent);
	}
	err = mkdir_p(pin, 0700);
	if (err) {
		fprintf(stderr, "xdpsvc: cannot create pin directory %s: %s\n", pin, strerror(-err));
		return err;
	}
	if (!is_bpffs(pin)) {
		fprintf(stderr, "xdpsvc: %s is not on a bpffs\n", pin);
		return -EINVAL;
	}
	return make_private(pin);
}

static int pin_prog(struct bpf_program *prog, const char *pin, const char *name)
{
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s/%s", pin, name);
	/* Replace an older pin: the attached program is what counts. */
	if (unlink(path) && errno != ENOENT)
		return -errno;
	err = bpf_program__pin(prog, path);
	if (err)
		fprintf(stderr, "xdpsvc: cannot pin %s: %s\n", path, strerror(-err));
	return err;
}

/* Id and name of the XDP program on ifindex, 0 when there is none. */
static __u32 xdp_current(int ifindex, __u8 *mode, char name[BPF_OBJ_NAME_LEN])
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd;

	name[0] = 0;
	if (bpf_xdp_query(ifindex, 0, &q) || !q.prog_id)
		return 0;
	*mode = q.attach_mode;
	fd = bpf_prog_get_fd_by_id(q.prog_id);
	if (fd >= 0) {
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			memcpy(name, info.name, BPF_OBJ_NAME_LEN);
		close(fd);
	}
	return q.prog_id;
}

static __u32 xdp_mode_flag(__u8 mode)
{
	return mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE :
	       mode == XDP_ATTACHED_HW ? XDP_FLAGS_HW_MODE : XDP_FLAGS_DRV_MODE;
}

static int attach_xdp(const struct xs_attach_opts *o, int ifindex, int prog_fd, bool quiet)
{
	bool generic = o->mode == XS_ATTACH_GENERIC;
	__u32 want = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	char name[BPF_OBJ_NAME_LEN];
	__u8 mode = 0;
	__u32 cur = xdp_current(ifindex, &mode, name);
	int err;

	if (cur && strcmp(name, XS_XDP_PROG_NAME) && !o->force) {
		fprintf(stderr, "xdpsvc: %s already runs XDP program id %u (%s), not xdpsvc's; "
			"detach it or use --force to replace it\n", o->dev, cur, name[0] ? name : "?");
		return -EBUSY;
	}
	kernel_msg[0] = 0;
	libbpf_quiet = true;
	if (cur && xdp_mode_flag(mode) == want) {
		/* Same mode: swap atomically, no moment without a program. */
		int old_fd = bpf_prog_get_fd_by_id(cur);
		LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = old_fd);

		err = bpf_xdp_attach(ifindex, prog_fd, want | XDP_FLAGS_REPLACE, old_fd >= 0 ? &ao : NULL);
		if (old_fd >= 0)
			close(old_fd);
	} else {
		if (cur)
			bpf_xdp_detach(ifindex, xdp_mode_flag(mode), NULL);
		err = bpf_xdp_attach(ifindex, prog_fd, want, NULL);
	}
	libbpf_quiet = false;
	if (err && !quiet)
		fprintf(stderr, "xdpsvc: cannot attach XDP in %s mode to %s: %s%s%s%s%s\n",
			generic ? "generic" : "native", o->dev, strerror(-err),
			kernel_msg[0] ? " (" : "", kernel_msg, kernel_msg[0] ? ")" : "",
			!generic && err == -EOPNOTSUPP ? "; the driver has no native XDP: leave --xdp-mode out "
			"(tc translates then) or try --xdp-mode generic" : "");
	return err;
}

/* Remove xdpsvc's XDP program from ifindex, if it runs one (tc mode). */
static int detach_our_xdp(const char *dev, int ifindex)
{
	char name[BPF_OBJ_NAME_LEN];
	__u8 mode = 0;
	int err;

	if (!xdp_current(ifindex, &mode, name) || strcmp(name, XS_XDP_PROG_NAME))
		return 0;
	err = bpf_xdp_detach(ifindex, xdp_mode_flag(mode), NULL);
	if (err)
		fprintf(stderr, "xdpsvc: cannot detach XDP from %s: %s\n", dev, strerror(-err));
	return err;
}

/*
 * net.ipv4.conf.DEV.accept_local = 1: the stack takes a packet coming in on
 * DEV with one of the node's own addresses as source. The datapath makes
 * such packets: the reply to the node's own connection to its NodePort (or
 * to an external or LB address of its own) gets that address back as
 * source before it reaches the node's socket, coming in from the pod's veth
 * or, for a backend elsewhere, from the NIC. Without it the stack drops
 * them as martians. Cilium sets it on its devices for the same reason.
 */
static int accept_local(const char *dev)
{
	char path[PATH_MAX];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/accept_local", dev);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1\n", 2) != 2)
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (err)
		fprintf(stderr, "xdpsvc: cannot set %s to 1: %s (the node's own connections to its NodePorts "
			"will not get their replies)\n", path, strerror(-err));
	return err;
}

/* The device's driver (ethtool -i), "" if it does not say. */
static void dev_driver(const char *dev, char *out, size_t len)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	out[0] = 0;
	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	ifr.ifr_data = (void *)&info;
	if (!ioctl(fd, SIOCETHTOOL, &ifr)) {
		size_t n = strnlen(info.driver, sizeof(info.driver));

		n = n < len ? n : len - 1;
		memcpy(out, info.driver, n);
		out[n] = 0;
	}
	close(fd);
}

/*
 * What an attach added, so that a failure further on (typically a device
 * without native XDP) takes it back and leaves the device and the pin
 * directory as they were. A re-attach replaces programs in place; it undoes
 * only what it added.
 */
struct undo {
	bool new_dir;      /* the pin directory did not exist */
	bool new_mount;    /* ... nor a bpffs on its parent */
	bool new_qdisc;    /* we created the clsact qdisc */
	bool new_tc[2];    /* we added our filter on egress, ingress */
};

static bool tc_ours(int ifindex, enum bpf_tc_attach_point where)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = XS_TC_HANDLE, .priority = XS_TC_PRIO);

	bool ours;

	libbpf_quiet = true; /* no qdisc, no filter: the kernel says so */
	ours = !bpf_tc_query(&hook, &to);
	libbpf_quiet = false;
	return ours;
}

/* The name of the program in our filter on ifindex's hook; false: no such filter. */
static bool tc_ours_name(int ifindex, enum bpf_tc_attach_point where, char name[BPF_OBJ_NAME_LEN])
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = XS_TC_HANDLE, .priority = XS_TC_PRIO);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err, fd;

	libbpf_quiet = true;
	err = bpf_tc_query(&hook, &to);
	libbpf_quiet = false;
	name[0] = 0;
	if (err)
		return false;
	fd = bpf_prog_get_fd_by_id(to.prog_id);
	if (fd >= 0) {
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			memcpy(name, info.name, BPF_OBJ_NAME_LEN);
		close(fd);
	}
	return true;
}

static int attach_tc(const char *dev, int ifindex, enum bpf_tc_attach_point where, int prog_fd,
		     struct undo *u)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = XS_TC_HANDLE, .priority = XS_TC_PRIO,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	bool had = tc_ours(ifindex, where);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST) {
		fprintf(stderr, "xdpsvc: cannot create the clsact qdisc on %s: %s\n", dev, strerror(-err));
		return err;
	}
	if (!err)
		u->new_qdisc = true;
	u->new_tc[where == BPF_TC_INGRESS] = !had;
	err = bpf_tc_attach(&hook, &to);
	if (err)
		fprintf(stderr, "xdpsvc: cannot attach the tc %s program to %s: %s\n",
			where == BPF_TC_EGRESS ? "egress" : "ingress", dev, strerror(-err));
	return err;
}

static int dev_index(const char *dev)
{
	int ifindex = if_nametoindex(dev);

	if (!ifindex)
		fprintf(stderr, "xdpsvc: no network device named '%s' in this network namespace\n", dev);
	return ifindex;
}

static bool same_layout(const struct bpf_map *map, const struct bpf_map_info *info, int fd)
{
	if (info->type != bpf_map__type(map) || info->key_size != bpf_map__key_size(map) ||
	    info->value_size != bpf_map__value_size(map) || info->map_flags != bpf_map__map_flags(map))
		return false;
	if (strcmp(bpf_map__name(map), XS_MAP_CONFIG) == 0) {
		struct xs_config cfg;
		__u32 zero = 0;

		return !bpf_map_lookup_elem(fd, &zero, &cfg) && cfg.layout_version == XS_LAYOUT_VERSION;
	}
	return true;
}

/* The size attach was asked to give map (0: none asked). */
static __u32 size_asked(const struct xs_attach_opts *o, const char *map)
{
	if (!strcmp(map, XS_MAP_SERVICES) || !strcmp(map, XS_MAP_SVC_STATS) || !strcmp(map, XS_MAP_SVC_META) ||
	    !strcmp(map, XS_MAP_CLUSTER_IPS))
		return o->max_services;
	if (!strcmp(map, XS_MAP_BACKENDS))
		return o->max_backends;
	if (!strcmp(map, XS_MAP_SLOTS))
		return o->max_slots;
	if (!strcmp(map, XS_MAP_CT) || !strcmp(map, XS_MAP_CT_ASSURED))
		return o->ct_size;
	return 0;
}

static bool sizable(const char *map)
{
	static const struct xs_attach_opts all = { .max_services = 1, .max_backends = 1, .max_slots = 1,
						   .ct_size = 1 };

	return size_asked(&all, map) != 0;
}

/* Give map its size in both objects. */
static void set_size(struct xs_xdp *x, struct xs_tc *t, const char *name, __u32 n)
{
	struct bpf_map *m = bpf_object__find_map_by_name(x->obj, name);

	if (m)
		bpf_map__set_max_entries(m, n);
	m = bpf_object__find_map_by_name(t->obj, name);
	if (m)
		bpf_map__set_max_entries(m, n);
}

/*
 * Can the maps pinned under o->pin be reused by this build? Layouts must be
 * identical; sizes must match what was asked for. A map whose size was not
 * asked for keeps its pinned size. Lists the misfits in why.
 */
static int check_pinned(const struct xs_attach_opts *o, struct xs_xdp *x, struct xs_tc *t, char *why,
			size_t len)
{
	struct bpf_map *map;
	size_t used = 0;
	int misfits = 0;

	why[0] = 0;
	bpf_object__for_each_map(map, x->obj) {
		struct bpf_map_info info = {};
		__u32 ilen = sizeof(info);
		char path[PATH_MAX];
		bool fits;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", o->pin, bpf_map__name(map));
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue; /* not pinned yet: created at load */
		if (bpf_obj_get_info_by_fd(fd, &info, &ilen)) {
			close(fd);
			return -errno;
		}
		fits = same_layout(map, &info, fd);
		close(fd);
		if (fits && sizable(bpf_map__name(map)) && !size_asked(o, bpf_map__name(map)))
			set_size(x, t, bpf_map__name(map), info.max_entries);
		if (fits && info.max_entries == bpf_map__max_entries(map))
			continue;
		misfits++;
		used += snprintf(why + used, used < len ? len - used : 0, "%s%s (%s)", used ? ", " : "",
				 bpf_map__name(map), fits ? "another size" : "another layout");
	}
	return misfits;
}

static void unpin_maps(struct bpf_object *obj, const char *pin)
{
	struct bpf_map *map;
	char path[PATH_MAX];

	bpf_object__for_each_map(map, obj) {
		snprintf(path, sizeof(path), "%s/%s", pin, bpf_map__name(map));
		if (unlink(path) && errno != ENOENT)
			fprintf(stderr, "xdpsvc: cannot remove %s: %s\n", path, strerror(errno));
	}
}

static void unpin(const char *pin, const char *name);
static void pods_replace(int prog_fd, int devs_fd);

/* Record the mode attach chose, and the device, for `xdpsvc list`. */
static int set_nic_mode(int cfg_fd, int ifindex, __u32 mode)
{
	struct xs_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(cfg_fd, &zero, &cfg))
		return -errno;
	cfg.nic_ifindex = ifindex;
	cfg.nic_mode = mode;
	return bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

/* A pod's veth (node side) in xs_devs, or out of it: the tc programs send
 * packets for its pod straight in with bpf_redirect_peer. */
static int dev_mark(int devs_fd, const char *dev, int ifindex, bool pod)
{
	struct xs_dev d = { .flags = XS_DEV_F_POD };
	__u32 k = ifindex;
	int err = pod ? bpf_map_update_elem(devs_fd, &k, &d, BPF_ANY) : bpf_map_delete_elem(devs_fd, &k);

	if (err && !(errno == ENOENT && !pod)) {
		err = -errno;
		fprintf(stderr, "xdpsvc: cannot %s %s in %s: %s\n", pod ? "record" : "forget", dev, XS_MAP_DEVS,
			strerror(-err));
		return err;
	}
	return 0;
}

/* The pinned xs_devs map quietly, or -1. */
static int bpf_obj_get_path(const char *pin)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin, XS_MAP_DEVS);
	return bpf_obj_get(path);
}

/* The pinned xs_devs map, or -errno after saying why. */
static int devs_open(const char *pin)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin, XS_MAP_DEVS);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fd = -errno;
		fprintf(stderr, "xdpsvc: cannot open %s: %s (run 'xdpsvc attach NIC' with this --pin-path first)\n",
			path, strerror(-fd));
	}
	return fd;
}

/* Take back what attach added on lo: its egress filter, its clsact. */
static void undo_lo(const struct undo *u)
{
	int lo = if_nametoindex("lo");
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = lo, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = XS_TC_HANDLE, .priority = XS_TC_PRIO);

	if (!lo)
		return;
	if (u->new_qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	} else if (u->new_tc[0]) {
		bpf_tc_detach(&hook, &to);
	}
}

static void undo_attach(const struct undo *u, const struct xs_attach_opts *o, int ifindex,
			struct bpf_object *obj)
{
	static const enum bpf_tc_attach_point hooks[] = { BPF_TC_EGRESS, BPF_TC_INGRESS };
	char parent[PATH_MAX];

	for (unsigned i = 0; i < 2 && !u->new_qdisc; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = hooks[i]);
		LIBBPF_OPTS(bpf_tc_opts, to, .handle = XS_TC_HANDLE, .priority = XS_TC_PRIO);

		if (u->new_tc[i])
			bpf_tc_detach(&hook, &to);
	}
	if (u->new_qdisc) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

		bpf_tc_hook_destroy(&hook);
	}
	if (!u->new_dir)
		return;
	unpin(o->pin, XS_PROG_XDP);
	unpin(o->pin, XS_PROG_TC_EGRESS);
	unpin(o->pin, XS_PROG_TC_INGRESS);
	unpin(o->pin, XS_PROG_TC_POD);
	if (obj)
		unpin_maps(obj, o->pin);
	if (rmdir(o->pin) && errno != ENOENT)
		fprintf(stderr, "xdpsvc: cannot remove %s: %s\n", o->pin, strerror(errno));
	snprintf(parent, sizeof(parent), "%s", o->pin);
	if (u->new_mount && umount2(dirname(parent), MNT_DETACH) && errno != EINVAL)
		fprintf(stderr, "xdpsvc: cannot unmount the bpffs at %s: %s\n", parent, strerror(errno));
}

/* Without vmlinux BTF: the programs need no CO-RE, so this is only worth
 * saying when loading failed. */
static const char *btf_hint(void)
{
	return access("/sys/kernel/btf/vmlinux", F_OK) ? " (this kernel exposes no BTF: "
	       "/sys/kernel/btf/vmlinux is missing; a kernel built with CONFIG_DEBUG_INFO_BTF=y is the "
	       "first thing to try)" : "";
}

int xs_attach(const struct xs_attach_opts *o, __u32 *chosen, char *why_mode, size_t why_len)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin);
	struct xs_xdp *x = NULL;
	struct xs_tc *t = NULL;
	struct bpf_map *map;
	struct undo u = {}, lo_undo = {};
	char parent[PATH_MAX];
	struct stat st;
	struct xs_config old_cfg;
	bool restore_cfg = false;
	int ifindex, err;

	err = xs_check_privileges("attach");
	if (err)
		return err;
	ifindex = dev_index(o->dev);
	if (!ifindex)
		return -ENODEV;
	snprintf(parent, sizeof(parent), "%s", o->pin);
	u.new_dir = stat(o->pin, &st) != 0;
	u.new_mount = u.new_dir && !is_bpffs(dirname(parent));
	err = xs_pin_dir_ensure(o->pin, true);
	if (err)
		return err;

	/* Maps are pinned by name: the first object creates them (or reuses
	 * the pinned ones, keeping their contents), the second shares them. */
	x = xs_xdp__open_opts(&oo);
	t = x ? xs_tc__open_opts(&oo) : NULL;
	if (!x || !t) {
		err = -errno;
		fprintf(stderr, "xdpsvc: cannot open the embedded BPF objects: %s\n", strerror(-err));
		goto out;
	}
	bpf_object__for_each_map(map, x->obj)
		if (size_asked(o, bpf_map__name(map)))
			set_size(x, t, bpf_map__name(map), size_asked(o, bpf_map__name(map)));
	char why[512];
	int misfits = check_pinned(o, x, t, why, sizeof(why));

	if (misfits < 0) {
		err = misfits;
		fprintf(stderr, "xdpsvc: cannot inspect the maps pinned under %s: %s\n", o->pin, strerror(-err));
		goto out;
	}
	if (misfits && !o->recreate_maps) {
		fprintf(stderr, "xdpsvc: the maps pinned under %s do not fit this xdpsvc: %s; nothing was changed. "
			"'attach --recreate-maps' replaces them with empty ones (flows in conntrack are lost; "
			"run 'xdpsvc apply' again right after)\n", o->pin, why);
		err = -EEXIST;
		goto out;
	}
	if (misfits) {
		/* All of them: the state is one whole, never half old, half new.
		 * The running programs keep the old maps until they are replaced. */
		unpin_maps(x->obj, o->pin);
		fprintf(stderr, "xdpsvc: note: recreated the maps under %s (%s): they are empty, "
			"run 'xdpsvc apply' again\n", o->pin, why);
	}
	err = xs_xdp__load(x);
	if (!err)
		err = xs_tc__load(t);
	if (!err) {
		struct xs_config cfg = o->cfg, old = {};
		int fd = bpf_map__fd(x->maps.xs_config), lock = xs_pin_dir_lock(o->pin);
		__u32 zero = 0;

		/* Reused maps keep their count of flushed conntrack entries
		 * (new ones hold zeros); the lock keeps a flush from adding to
		 * it in between. Their apply_seq goes on counting; new maps
		 * start anywhere, so that a watcher of the old maps cannot
		 * mistake them for its own. */
		cfg.layout_version = XS_LAYOUT_VERSION;
		if (lock < 0)
			err = lock;
		else if (bpf_map_lookup_elem(fd, &zero, &old))
			err = -errno;
		cfg.ct_flushed = old.ct_flushed;
		if (old.apply_seq)
			cfg.apply_seq = old.apply_seq + 1;
		else if (getrandom(&cfg.apply_seq, sizeof(cfg.apply_seq), 0) != sizeof(cfg.apply_seq))
			cfg.apply_seq = (__u64)time(NULL) << 20 ^ (__u64)getpid();
		/* What list shows of the NIC stays until the new mode is set. */
		cfg.nic_ifindex = old.nic_ifindex;
		cfg.nic_mode = old.nic_mode;
		if (!err && bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY))
			err = -errno;
		else if (!err && old.layout_version == XS_LAYOUT_VERSION)
			old_cfg = old, restore_cfg = true;
		if (lock >= 0)
			close(lock);
	}
	if (err) {
		fprintf(stderr, "xdpsvc: cannot load the BPF programs: %s%s\n", strerror(-err), btf_hint());
		goto out;
	}
	err = pin_prog(x->progs.xs_xdp_ingress, o->pin, XS_PROG_XDP) ?:
	      pin_prog(t->progs.xs_tc_egress, o->pin, XS_PROG_TC_EGRESS) ?:
	      pin_prog(t->progs.xs_tc_ingress, o->pin, XS_PROG_TC_INGRESS) ?:
	      pin_prog(t->progs.xs_tc_pod, o->pin, XS_PROG_TC_POD);
	if (err)
		goto out;
	/* tc first: replies must be translated back as soon as XDP starts
	 * translating requests, and in tc mode tc ingress translates them. */
	err = attach_tc(o->dev, ifindex, BPF_TC_EGRESS, bpf_program__fd(t->progs.xs_tc_egress), &u) ?:
	      attach_tc(o->dev, ifindex, BPF_TC_INGRESS, bpf_program__fd(t->progs.xs_tc_ingress), &u);
	/*
	 * Where XDP can deliver (see the README's decision table): a real
	 * driver's native XDP receives complete checksums and its XDP_TX goes
	 * out on the wire. A veth's does neither for sure: its peer's local
	 * sockets leave partial checksums, which XDP cannot tell from complete
	 * ones, and XDP_TX reaches the peer only if the peer runs XDP itself.
	 * So a veth, or a driver without native XDP, gets tc mode: no XDP,
	 * tc ingress translates on the skb. An operator may insist.
	 */
	char drv[32];

	dev_driver(o->dev, drv, sizeof(drv));
	*chosen = XS_NIC_TC;
	if (!err && o->mode == XS_ATTACH_AUTO && !strcmp(drv, "veth")) {
		snprintf(why_mode, why_len, "tc: %s is a veth, whose peer may send partial checksums and "
			 "drops XDP_TX frames unless it runs XDP (--xdp-mode native insists on XDP)", o->dev);
	} else if (!err && o->mode == XS_ATTACH_TC) {
		snprintf(why_mode, why_len, "tc, as asked");
	} else if (!err) {
		err = attach_xdp(o, ifindex, bpf_program__fd(x->progs.xs_xdp_ingress), o->mode == XS_ATTACH_AUTO);
		if (!err && !strcmp(drv, "veth"))
			fprintf(stderr, "xdpsvc: note: %s is a veth: what XDP sends back out (XDP_TX) reaches its "
				"peer only if the peer runs an XDP program, and packets from the peer's own sockets "
				"may carry partial checksums that XDP cannot finish; without --xdp-mode, tc "
				"translates instead\n", o->dev);
		if (!err) {
			*chosen = o->mode == XS_ATTACH_GENERIC ? XS_NIC_XDP_GENERIC : XS_NIC_XDP_NATIVE;
			snprintf(why_mode, why_len, "%s (driver %s)%s",
				 o->mode == XS_ATTACH_GENERIC ? "xdp generic, as asked" : "xdp native",
				 drv[0] ? drv : "?", o->mode == XS_ATTACH_NATIVE ? ", as asked" : "");
		} else if (o->mode == XS_ATTACH_AUTO) {
			snprintf(why_mode, why_len, "tc: the driver of %s (%s) took no native XDP program (%s)",
				 o->dev, drv[0] ? drv : "?", kernel_msg[0] ? kernel_msg : strerror(-err));
			err = 0;
		}
	}
	if (!err && *chosen == XS_NIC_TC)
		err = detach_our_xdp(o->dev, ifindex);
	/* The node's own connections to its NodePorts go through lo. */
	int lo = if_nametoindex("lo");

	if (!err && lo && lo != ifindex)
		err = attach_tc("lo", lo, BPF_TC_EGRESS, bpf_program__fd(t->progs.xs_tc_egress), &lo_undo);
	if (!err)
		accept_local(o->dev);
	if (!err)
		err = set_nic_mode(bpf_map__fd(x->maps.xs_config), ifindex, *chosen);
	/* The pods' veths run this build too, on the same maps. */
	if (!err)
		pods_replace(bpf_program__fd(t->progs.xs_tc_pod), bpf_map__fd(t->maps.xs_devs));
out:
	if (err && restore_cfg) {
		/* A failed attach leaves the settings as they were (the pinned
		 * programs keep running on them). */
		__u32 zero = 0;

		bpf_map_update_elem(bpf_map__fd(x->maps.xs_config), &zero, &old_cfg, BPF_ANY);
	}
	if (err) {
		undo_lo(&lo_undo);
		undo_attach(&u, o, ifindex, x ? x->obj : NULL);
	}
	xs_tc__destroy(t);
	xs_xdp__destroy(x);
	return err;
}

static void unpin(const char *pin, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin, name);
	if (unlink(path) && errno != ENOENT)
		fprintf(stderr, "xdpsvc: cannot remove %s: %s\n", path, strerror(errno));
}

/* Call fn on every device of this namespace whose ingress runs the pod
 * program; the count of them, or -errno from the first fn that failed. */
static int pods_each(int (*fn)(const char *dev, int ifindex, int arg), int arg)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	char name[BPF_OBJ_NAME_LEN];
	int n = 0, err = 0;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++) {
		if (!tc_ours_name(i->if_index, BPF_TC_INGRESS, name) || strcmp(name, XS_POD_PROG_NAME))
			continue;
		int e = fn(i->if_name, i->if_index, arg);

		err = err ?: e;
		n++;
	}
	if_freenameindex(ifs);
	return err ?: n;
}

static int pod_attach_one(const char *dev, int ifindex, int prog_fd)
{
	struct undo u = {};

	return attach_tc(dev, ifindex, BPF_TC_INGRESS, prog_fd, &u);
}

static int pod_mark_one(const char *dev, int ifindex, int devs_fd)
{
	return dev_mark(devs_fd, dev, ifindex, true);
}

static int pod_unmark_one(const char *dev, int ifindex, int devs_fd)
{
	return dev_mark(devs_fd, dev, ifindex, false);
}

static int pod_detach_one(const char *dev, int ifindex, int unused)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = XS_TC_HANDLE, .priority = XS_TC_PRIO);
	int err = bpf_tc_detach(&hook, &to);

	if (err && err != -ENOENT)
		fprintf(stderr, "xdpsvc: cannot detach the pod program from %s: %s\n", dev, strerror(-err));
	return err == -ENOENT ? 0 : err;
}

static void pods_replace(int prog_fd, int devs_fd)
{
	int n = pods_each(pod_attach_one, prog_fd);

	pods_each(pod_mark_one, devs_fd);
	if (n > 0)
		fprintf(stderr, "xdpsvc: note: replaced the pod program on %d pod device%s\n", n, n == 1 ? "" : "s");
}

/*
 * Check every device first, so that a bad one changes nothing: it exists,
 * and its ingress carries no xdpsvc program but the pod one (the NIC's own
 * ingress program sits at the same handle).
 */
static int pod_devs_check(const char *const *devs, int n, int *idx)
{
	char name[BPF_OBJ_NAME_LEN];

	for (int i = 0; i < n; i++) {
		idx[i] = dev_index(devs[i]);
		if (!idx[i])
			return -ENODEV;
		if (tc_ours_name(idx[i], BPF_TC_INGRESS, name) && strcmp(name, XS_POD_PROG_NAME)) {
			fprintf(stderr, "xdpsvc: %s runs xdpsvc's NIC programs ('xdpsvc attach'), not the pod "
				"program; nothing was changed\n", devs[i]);
			return -EBUSY;
		}
	}
	return 0;
}

int xs_attach_pod(const char *const *devs, int n, const char *pin)
{
	char path[PATH_MAX];
	int idx[n > 0 ? n : 1];
	int err, fd;

	err = xs_check_privileges("attach-pod") ?: xs_pin_dir_ensure(pin, false);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/%s", pin, XS_PROG_TC_POD);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "xdpsvc: no pod program pinned at %s (%s): run 'xdpsvc attach NIC' with this "
			"--pin-path first\n", path, strerror(-err));
		return err;
	}
	err = pod_devs_check(devs, n, idx);
	int devs_fd = err ? -1 : devs_open(pin);

	if (devs_fd < 0)
		err = err ?: devs_fd;
	/* Recorded first: the pod program may send into it at once. */
	for (int i = 0; !err && i < n; i++) {
		err = dev_mark(devs_fd, devs[i], idx[i], true) ?: pod_attach_one(devs[i], idx[i], fd);
		if (!err)
			accept_local(devs[i]);
	}
	if (devs_fd >= 0)
		close(devs_fd);
	close(fd);
	return err;
}

int xs_detach_pod(const char *const *devs, int n, const char *pin)
{
	char name[BPF_OBJ_NAME_LEN];
	int idx[n > 0 ? n : 1];
	int err = xs_check_privileges("detach-pod") ?: pod_devs_check(devs, n, idx);
	int devs_fd = !err && is_bpffs(pin) ? bpf_obj_get_path(pin) : -1;

	for (int i = 0; !err && i < n; i++) {
		if (devs_fd >= 0)
			dev_mark(devs_fd, devs[i], idx[i], false);
		if (!tc_ours_name(idx[i], BPF_TC_INGRESS, name)) {
			fprintf(stderr, "xdpsvc: note: %s runs no xdpsvc pod program\n", devs[i]);
			continue;
		}
		err = pod_detach_one(devs[i], idx[i], 0);
	}
	if (devs_fd >= 0)
		close(devs_fd);
	return err;
}

int xs_detach(const char *dev, const char *pin, bool purge)
{
	static const enum bpf_tc_attach_point hooks[] = { BPF_TC_EGRESS, BPF_TC_INGRESS };
	char name[BPF_OBJ_NAME_LEN];
	int ifindex, err = xs_check_privileges("detach");
	__u8 mode = 0;

	if (err)
		return err;
	ifindex = dev_index(dev);
	if (!ifindex)
		return -ENODEV;
	if (xdp_current(ifindex, &mode, name)) {
		if (strcmp(name, XS_XDP_PROG_NAME))
			fprintf(stderr, "xdpsvc: note: the XDP program on %s (%s) is not xdpsvc's; left in place\n",
				dev, name);
		else if ((err = bpf_xdp_detach(ifindex, xdp_mode_flag(mode), NULL)))
			fprintf(stderr, "xdpsvc: cannot detach XDP from %s: %s\n", dev, strerror(-err));
	}
	for (unsigned i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = hooks[i]);
		LIBBPF_OPTS(bpf_tc_opts, to, .handle = XS_TC_HANDLE, .priority = XS_TC_PRIO);
		int e = bpf_tc_detach(&hook, &to);

		if (e && e != -ENOENT && e != -EINVAL) {
			fprintf(stderr, "xdpsvc: cannot detach the tc program from %s: %s\n", dev, strerror(-e));
			err = err ?: e;
		}
	}
	/* ... and lo's egress (the node's own connections to its NodePorts). */
	int lo = if_nametoindex("lo");

	if (lo && lo != ifindex && tc_ours_name(lo, BPF_TC_EGRESS, name)) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = lo, .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, to, .handle = XS_TC_HANDLE, .priority = XS_TC_PRIO);
		int e = bpf_tc_detach(&hook, &to);

		if (e && e != -ENOENT)
			fprintf(stderr, "xdpsvc: cannot detach the tc program from lo: %s\n", strerror(-e));
	}
	/* Off on this node: the pods' veths too. */
	int devs_fd = is_bpffs(pin) ? bpf_obj_get_path(pin) : -1;

	if (devs_fd >= 0) {
		pods_each(pod_unmark_one, devs_fd);
		close(devs_fd);
	}
	int e = pods_each(pod_detach_one, 0);

	err = err ?: (e < 0 ? e : 0);
	if (!is_bpffs(pin))
		return err;
	unpin(pin, XS_PROG_XDP);
	unpin(pin, XS_PROG_TC_EGRESS);
	unpin(pin, XS_PROG_TC_INGRESS);
	unpin(pin, XS_PROG_TC_POD);
	if (purge) {
		struct xs_xdp *x = xs_xdp__open(); /* for the names of its maps */

		if (!x) {
			fprintf(stderr, "xdpsvc: cannot open the embedded BPF object: %s\n", strerror(errno));
			return -errno;
		}
		unpin_maps(x->obj, pin);
		xs_xdp__destroy(x);
		if (rmdir(pin) && errno != ENOENT)
			fprintf(stderr, "xdpsvc: cannot remove %s: %s\n", pin, strerror(errno));
	}
	return err;
}
