// The pod a process belongs to, read from its /proc/<pid>/cgroup: the fallback when the
// container runtime cannot be asked (pod uid and container id only; names come from the
// runtime). The shapes the kubelet and the runtimes make:
//   cgroupfs driver:  /kubepods/besteffort/pod<uid>/<id>   (guaranteed: /kubepods/pod<uid>/<id>)
//                     CRI-O: .../pod<uid>/crio-<id>
//   systemd driver:   /kubepods.slice/kubepods-besteffort.slice/
//                       kubepods-besteffort-pod<uid with _ for ->.slice/cri-containerd-<id>.scope
//                     (crio-<id>.scope, docker-<id>.scope, cri-dockerd: docker-<id>.scope)
//   nested (k3d/kind: k3s or a kubelet inside a container): a prefix before /kubepods...;
//                     kind's --cgroup-root=/kubelet: kubelet-kubepods-…-pod<uid_>.slice
// cgroup v1 (one line per hierarchy) and v2 ("0::/...") alike. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tif {

struct CgroupPod {
    std::string pod_uid;      // with dashes, e.g. "6f1e3c1a-9d2b-4a5e-8f00-0123456789ab"
    std::string qos;          // "besteffort", "burstable" or "guaranteed"
    std::string container_id; // 64 hex digits where the path has it, else ""
    std::string runtime;      // "containerd", "crio", "docker" or "" (cgroupfs: not named)
};

// One cgroup path (the part after the second ':').
std::optional<CgroupPod> parse_kubepods_path(std::string_view path);

// The whole /proc/<pid>/cgroup text: the first line with a kubepods path that parses.
std::optional<CgroupPod> parse_proc_cgroup(std::string_view text);

} // namespace tif
