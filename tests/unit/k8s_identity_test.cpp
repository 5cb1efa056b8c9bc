// Pod identity without a cluster: the kubepods cgroup paths of the real drivers and runtimes,
// the runtime's verbose status JSON, the directory's retention and nsid reuse, and the walk of
// a cgroup hierarchy for pod cgroups.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "k8s/cgroup_pod.h"
#include "k8s/cri_client.h"
#include "k8s/pod_cgroups.h"
#include "k8s/pod_directory.h"

using namespace tif;

namespace {
constexpr const char* UID = "6f1e3c1a-9d2b-4a5e-8f00-0123456789ab";
constexpr const char* UID_ = "6f1e3c1a_9d2b_4a5e_8f00_0123456789ab";
const std::string ID(64, 'a');
} // namespace

TEST_CASE("cgroupfs driver: /kubepods/<qos>/pod<uid>/<id> (containerd, docker, k3s)") {
    auto p = parse_kubepods_path("/kubepods/besteffort/pod" + std::string(UID) + "/" + ID);
    REQUIRE(p);
    CHECK(p->pod_uid == UID);
    CHECK(p->qos == "besteffort");
    CHECK(p->container_id == ID);
    CHECK(p->runtime == "");
    p = parse_kubepods_path("/kubepods/burstable/pod" + std::string(UID) + "/" + ID);
    REQUIRE(p);
    CHECK(p->qos == "burstable");
    // Guaranteed pods sit right under kubepods.
    p = parse_kubepods_path("/kubepods/pod" + std::string(UID) + "/" + ID);
    REQUIRE(p);
    CHECK(p->qos == "guaranteed");
    CHECK(p->pod_uid == UID);
    // The pod cgroup itself (no container segment).
    p = parse_kubepods_path("/kubepods/besteffort/pod" + std::string(UID));
    REQUIRE(p);
    CHECK(p->container_id == "");
}

TEST_CASE("systemd driver: kubepods-<qos>-pod<uid_>.slice/<runtime>-<id>.scope") {
    const std::string base = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
                             std::string(UID_) + ".slice/";
    auto p = parse_kubepods_path(base + "cri-containerd-" + ID + ".scope");
    REQUIRE(p);
    CHECK(p->pod_uid == UID); // underscores back to dashes
    CHECK(p->qos == "besteffort");
    CHECK(p->container_id == ID);
    CHECK(p->runtime == "containerd");
    p = parse_kubepods_path(base + "crio-" + ID + ".scope");
    REQUIRE(p);
    CHECK(p->runtime == "crio");
    CHECK(p->container_id == ID);
    p = parse_kubepods_path(base + "docker-" + ID + ".scope");
    REQUIRE(p);
    CHECK(p->runtime == "docker");
    p = parse_kubepods_path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                            std::string(UID_) + ".slice/crio-conmon-" + ID + ".scope");
    REQUIRE(p);
    CHECK(p->qos == "burstable");
    CHECK(p->runtime == "crio");
    p = parse_kubepods_path("/kubepods.slice/kubepods-pod" + std::string(UID_) + ".slice/cri-" +
                            "containerd-" + ID + ".scope");
    REQUIRE(p);
    CHECK(p->qos == "guaranteed");
    CHECK(p->pod_uid == UID);
}

TEST_CASE("CRI-O with cgroupfs, and nested kubelets (kind, k3d)") {
    auto p = parse_kubepods_path("/kubepods/besteffort/pod" + std::string(UID) + "/crio-" + ID);
    REQUIRE(p);
    CHECK(p->runtime == "crio");
    CHECK(p->container_id == ID);
    // k3d: k3s inside a docker container, cgroup v1 paths under the node container's.
    p = parse_kubepods_path("/docker/" + ID + "/kubepods/besteffort/pod" + std::string(UID) + "/" +
                            ID);
    REQUIRE(p);
    CHECK(p->pod_uid == UID);
    // kind on cgroup v2 with systemd inside the node container.
    p = parse_kubepods_path("/system.slice/docker-" + ID +
                            ".scope/kubelet.slice/kubelet-kubepods.slice/"
                            "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" +
                            std::string(UID_) + ".slice/cri-containerd-" + ID + ".scope");
    // kind runs its kubelet with --cgroup-root=/kubelet: the slices carry a "kubelet-" prefix.
    REQUIRE(p);
    CHECK(p->pod_uid == UID);
    CHECK(p->qos == "besteffort");
    CHECK(p->runtime == "containerd");
}

TEST_CASE("not a pod") {
    CHECK(!parse_kubepods_path("/"));
    CHECK(!parse_kubepods_path("/user.slice/user-0.slice/session-1.scope"));
    CHECK(!parse_kubepods_path("/system.slice/containerd.service"));
    CHECK(!parse_kubepods_path("/kubepods")); // the parent alone
    CHECK(!parse_kubepods_path("/kubepods/besteffort"));
    CHECK(!parse_kubepods_path("/kubepods.slice/kubepods-besteffort.slice"));
    CHECK(!parse_kubepods_path("/kubepods/besteffort/podnot-a-uid/" + ID));
    CHECK(!parse_kubepods_path("/kubepods/besteffort/pod" + std::string(UID_) + "/" + ID));
    CHECK(!parse_kubepods_path("/kubepods.slice/kubepods-besteffort.slice/"
                               "kubepods-besteffort-pod" +
                               std::string(UID) + ".slice")); // dashes in a slice name: no
}

TEST_CASE("/proc/<pid>/cgroup: v1 hybrid and v2 files") {
    const std::string v1 = "12:pids:/kubepods/besteffort/pod" + std::string(UID) + "/" + ID +
                           "\n"
                           "11:cpuset:/kubepods/besteffort/pod" +
                           std::string(UID) + "/" + ID +
                           "\n"
                           "1:name=systemd:/kubepods/besteffort/pod" +
                           std::string(UID) + "/" + ID +
                           "\n"
                           "0::/\n";
    auto p = parse_proc_cgroup(v1);
    REQUIRE(p);
    CHECK(p->pod_uid == UID);
    CHECK(p->container_id == ID);
    const std::string v2 = "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                           std::string(UID_) + ".slice/cri-containerd-" + ID + ".scope\n";
    p = parse_proc_cgroup(v2);
    REQUIRE(p);
    CHECK(p->qos == "burstable");
    CHECK(!parse_proc_cgroup("0::/init.scope\n"));
    CHECK(!parse_proc_cgroup(""));
    CHECK(!parse_proc_cgroup("garbage without colons\n"));
}

TEST_CASE("verbose PodSandboxStatus info: pid and netns path") {
    CriPod p;
    parse_verbose_info(R"({"pid":4242,"processStatus":"running","runtimeSpec":{"linux":
        {"namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"uts"},
        {"type":"network","path":"/var/run/netns/cni-1234"}]}}})",
                       p);
    CHECK(p.pid == 4242);
    CHECK(p.netns_path == "/var/run/netns/cni-1234");
    CriPod q;
    parse_verbose_info("not json", q);
    parse_verbose_info(R"({"pid":"x","runtimeSpec":{"linux":{"namespaces":{}}}})", q);
    CHECK(q.pid == 0);
    CHECK(q.netns_path == "");
}

TEST_CASE("PodDirectory: lookups, retention of a gone pod, nsid reuse") {
    using C = PodDirectory::Clock;
    PodDirectory d(std::chrono::seconds(5));
    const auto t0 = C::time_point{} + std::chrono::hours(1);
    const PodIdentity web{"shop", "web-7d9f", "u1", {}}, db{"shop", "db-0", "u2", {}};
    d.publish({{100, 3, web}, {200, 4, db}}, t0);
    CHECK(d.by_netns_ino(100) == web);
    CHECK(d.by_nsid(4) == db);
    CHECK(!d.by_nsid(-1));
    CHECK(!d.by_netns_ino(300));
    CHECK(d.live_count() == 2);
    // web goes: still named for 5 s (late events), then forgotten.
    d.publish({{200, 4, db}}, t0 + std::chrono::seconds(1));
    CHECK(d.by_netns_ino(100) == web);
    CHECK(d.by_nsid(3) == web);
    CHECK(d.live_count() == 1);
    CHECK(d.size() == 2);
    // The kernel hands nsid 3 to a new pod's namespace: the live one wins.
    const PodIdentity api{"shop", "api-1", "u3", {}};
    d.publish({{200, 4, db}, {300, 3, api}}, t0 + std::chrono::seconds(2));
    CHECK(d.by_nsid(3) == api);
    CHECK(d.by_netns_ino(100) == web);
    d.publish({{200, 4, db}, {300, 3, api}}, t0 + std::chrono::seconds(7));
    CHECK(!d.by_netns_ino(100));
    CHECK(d.size() == 2);
    // A veth stays named by its ifindex once its peer namespace is gone (no nsid any more).
    CHECK(d.by_link(17, 3, t0 + std::chrono::seconds(7)) == api);
    CHECK(d.by_link(17, -1, t0 + std::chrono::seconds(8)) == api);
    CHECK(!d.by_link(18, -1));
    d.publish({}, t0 + std::chrono::seconds(13)); // 6 s after its last lookup: forgotten
    CHECK(!d.by_link(17, -1));
    int woken = 0;
    d.wake(); // nothing set: no-op
    d.set_wake([&] { ++woken; });
    d.wake();
    CHECK(woken == 1);
}

TEST_CASE("pod cgroups: the kubepods directories of a hierarchy, by inode; retention") {
    // Any directory tree reads the same as a cgroup v2 mount (scan_pod_cgroups only walks it).
    namespace fs = std::filesystem;
    const fs::path root = fs::temp_directory_path() / ("tif-cg-" + std::to_string(::getpid()));
    const std::string pod = "kubepods/besteffort/pod" + std::string(UID);
    fs::create_directories(root / pod / ID);
    fs::create_directories(root / "kubepods/burstable"); // a QoS parent: no pod
    fs::create_directories(root / ("system.slice/containerd.service/x/y/pod" + std::string(UID)));
    fs::create_directories(root / "kubelet.slice/kubelet-kubepods.slice" /
                           ("kubelet-kubepods-pod" + std::string(UID_) + ".slice"));
    const auto scan = scan_pod_cgroups(root.string());
    std::map<std::string, std::string> got; // path → container id, for the inodes found
    for (const auto& c : scan.cgroups)
        for (const auto& e : fs::recursive_directory_iterator(root))
            if (e.is_directory()) {
                struct stat st {};
                if (::stat(e.path().c_str(), &st) == 0 && uint64_t(st.st_ino) == c.cgroup_id) {
                    CHECK(c.pod_uid == UID);
                    got[fs::relative(e.path(), root).string()] = c.container_id;
                }
            }
    // The pod and its container; the nested kubelet's pod (its prefix is near the top); not
    // the pod-looking directory deep in a system unit, which is never walked into.
    CHECK(got == std::map<std::string, std::string>{
                     {pod, ""},
                     {pod + "/" + ID, ID},
                     {"kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" +
                          std::string(UID_) + ".slice",
                      ""}});
    CHECK(!scan.truncated);
    CHECK(scan_pod_cgroups(root.string(), 2).truncated);
    CHECK(scan_pod_cgroups((root / "missing").string()).cgroups.empty());
    fs::remove_all(root);

    using C = PodDirectory::Clock;
    PodDirectory d(std::chrono::seconds(5));
    const auto t0 = C::time_point{} + std::chrono::hours(1);
    const PodIdentity agent{"infra", "agent-0", UID, {}};
    d.publish_cgroups({{11, agent, ""}, {12, agent, ID}}, t0);
    CHECK(d.by_cgroup(12)->container_id == ID);
    CHECK(d.by_cgroup(12)->id == agent);
    CHECK(!d.by_cgroup(13));
    d.publish_cgroups({{11, agent, ""}}, t0 + std::chrono::seconds(1)); // the container went
    CHECK(d.by_cgroup(12));                                             // late events still name it
    CHECK(d.cgroup_live_count() == 1);
    CHECK(d.cgroup_count() == 2);
    d.publish_cgroups({{11, agent, ""}}, t0 + std::chrono::seconds(7));
    CHECK(!d.by_cgroup(12));
}

TEST_CASE("PodDirectory: a veth into an unknown namespace wakes the resolver, once per 30 s") {
    using C = PodDirectory::Clock;
    PodDirectory d(std::chrono::seconds(5));
    const auto t0 = C::time_point{} + std::chrono::hours(1);
    int woken = 0;
    d.set_wake([&] { ++woken; });
    d.publish({{100, 3, {"shop", "web-7d9f", "u1", {}}}}, t0);
    d.wake_for_nsid(3, t0);  // a pod's: nothing to ask
    d.wake_for_nsid(-1, t0); // no peer namespace id
    CHECK(woken == 0);
    d.wake_for_nsid(7, t0);                           // the CNI plugin's new veth
    d.wake_for_nsid(7, t0 + std::chrono::seconds(1)); // its next change: asked already
    CHECK(woken == 1);
    d.wake_for_nsid(8, t0 + std::chrono::seconds(1));
    CHECK(woken == 2);
    d.wake_for_nsid(7, t0 + std::chrono::seconds(31)); // still no pod's: asks again
    CHECK(woken == 3);
}
