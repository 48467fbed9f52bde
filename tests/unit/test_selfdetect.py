"""The whoami parsers, on texts in the real formats (taken from containers on
a 20.10 engine with cgroup v1, and from systemd-driver and cgroup v2 hosts)."""

from app.selfdetect import id_from_hostname, ids_from_cgroup, ids_from_mountinfo

A = "5cb05afbc82dd29608df6a5e6d33c9d05dbbef046547f9c4fa0000a42a4ac702"
B = "0b1e4c0a5e0fa0c3bd4a7d2f3e1b6e3c1b5c9d7e8f6a4b2c0d1e2f3a4b5c6d7e"

CGROUP_V1 = f"""12:hugetlb:/docker/{A}
11:memory:/docker/{A}
10:cpu,cpuacct:/docker/{A}
9:name=systemd:/docker/{A}
8:pids:/docker/{A}
1:net_cls,net_prio:/docker/{A}
0::/system.slice/containerd.service
"""

CGROUP_SYSTEMD_V1 = f"""12:pids:/system.slice/docker-{A}.scope
5:cpu,cpuacct:/system.slice/docker-{A}.scope
1:name=systemd:/system.slice/docker-{A}.scope
"""

CGROUP_V2_HOSTNS = f"0::/system.slice/docker-{A}.scope\n"
CGROUP_V2_PRIVATE = "0::/\n"
CGROUP_HOST = """12:hugetlb:/
9:name=systemd:/init.scope
0::/init.scope
"""
# docker-in-docker: the outer container's path, then ours inside it
CGROUP_NESTED = f"9:name=systemd:/docker/{B}/docker/{A}\n"

MOUNTINFO = f"""74 58 0:58 / / rw,relatime master:30 - overlay overlay rw,lowerdir=/tmp/pdev/data/overlay2/l/X:/tmp/pdev/data/overlay2/l/Y,upperdir=/tmp/pdev/data/overlay2/abc/diff,workdir=/tmp/pdev/data/overlay2/abc/work
75 74 0:61 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
83 74 254:0 /tmp/pdev/docker.sock /var/run/docker.sock rw,relatime - ext4 /dev/vda rw,discard
91 74 254:0 /tmp/pdev/data/containers/{A}/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
92 74 254:0 /tmp/pdev/data/containers/{A}/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
93 74 254:0 /tmp/pdev/data/containers/{A}/hosts /etc/hosts rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
"""
# The default data root, with a volume of another container mounted elsewhere
MOUNTINFO_DEFAULT_ROOT = f"""700 690 8:1 /var/lib/docker/containers/{A}/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/sda1 rw
701 690 8:1 /var/lib/docker/containers/{A}/hostname /etc/hostname rw,relatime - ext4 /dev/sda1 rw
702 690 8:1 /var/lib/docker/containers/{A}/hosts /etc/hosts rw,relatime - ext4 /dev/sda1 rw
703 690 8:1 /var/lib/docker/containers/{B}/mounts/shm /data/other rw,relatime - ext4 /dev/sda1 rw
"""
MOUNTINFO_HOST = """22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
"""


def test_cgroup_v1_docker_path():
    assert ids_from_cgroup(CGROUP_V1) == [A]


def test_cgroup_systemd_scope_v1_and_v2():
    assert ids_from_cgroup(CGROUP_SYSTEMD_V1) == [A]
    assert ids_from_cgroup(CGROUP_V2_HOSTNS) == [A]


def test_cgroup_private_namespace_and_host_name_nothing():
    assert ids_from_cgroup(CGROUP_V2_PRIVATE) == []
    assert ids_from_cgroup(CGROUP_HOST) == []
    assert ids_from_cgroup("") == []


def test_cgroup_nested_takes_the_innermost():
    assert ids_from_cgroup(CGROUP_NESTED) == [A]


def test_cgroup_ignores_near_misses():
    # 63 hex, uppercase, a different runtime's word: none is a docker container ID
    assert ids_from_cgroup(f"1:cpu:/docker/{A[:63]}\n") == []
    assert ids_from_cgroup(f"1:cpu:/docker/{A.upper()}\n") == []
    assert ids_from_cgroup(f"1:cpu:/notdocker/x/{A}x\n") == []


def test_mountinfo_custom_data_root():
    assert ids_from_mountinfo(MOUNTINFO) == [A]


def test_mountinfo_default_root_ignores_other_mounts():
    # B's path is mounted, but not behind /etc/hostname, /etc/hosts or /etc/resolv.conf
    assert ids_from_mountinfo(MOUNTINFO_DEFAULT_ROOT) == [A]


def test_mountinfo_on_a_host_names_nothing():
    assert ids_from_mountinfo(MOUNTINFO_HOST) == []
    assert ids_from_mountinfo("garbage\n\n1 2\n") == []


def test_mountinfo_octal_escapes_in_paths():
    text = (f"91 74 254:0 /srv/my\\040docker/containers/{A}/hostname /etc/hostname rw - ext4 "
            "/dev/vda rw\n")
    assert ids_from_mountinfo(text) == [A]


def test_hostname_as_id():
    assert id_from_hostname(A[:12]) == A[:12]
    assert id_from_hostname(A[:12].upper()) == A[:12]
    assert id_from_hostname("periscope") is None
    assert id_from_hostname("abc") is None
    assert id_from_hostname("") is None


def test_healthcheck_url_from_bind():
    from app.healthcheck import url_for_bind

    assert url_for_bind("0.0.0.0:8000") == "http://127.0.0.1:8000/healthz"
    assert url_for_bind("127.0.0.1:18765") == "http://127.0.0.1:18765/healthz"
    assert url_for_bind("[::]:9000") == "http://127.0.0.1:9000/healthz"
    assert url_for_bind("[::1]:9000") == "http://[::1]:9000/healthz"
    assert url_for_bind("unix:/run/p.sock") is None
