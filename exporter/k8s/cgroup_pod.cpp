#include "k8s/cgroup_pod.h"

#include <algorithm>
#include <vector>

namespace tif {

namespace {

bool is_hex(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
}

// 8-4-4-4-12 hex digits with `sep` between the groups; returned with dashes.
std::optional<std::string> uid_of(std::string_view s, char sep) {
    if (s.size() != 36)
        return std::nullopt;
    std::string out(s);
    for (size_t i = 0; i < out.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash) {
            if (out[i] != sep)
                return std::nullopt;
            out[i] = '-';
        } else if (!is_hex(std::string_view(&out[i], 1))) {
            return std::nullopt;
        }
    }
    return out;
}

std::vector<std::string_view> split(std::string_view s, char c) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t end = s.find(c, start);
        if (end == std::string_view::npos)
            end = s.size();
        if (end > start)
            out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

bool strip(std::string_view& s, std::string_view prefix) {
    if (!s.starts_with(prefix))
        return false;
    s.remove_prefix(prefix.size());
    return true;
}

bool strip_suffix(std::string_view& s, std::string_view suffix) {
    if (!s.ends_with(suffix))
        return false;
    s.remove_suffix(suffix.size());
    return true;
}

// A container's own segment: "<id>", "cri-containerd-<id>.scope", "crio-<id>[.scope]",
// "docker-<id>.scope"; `runtime` is set when the segment names it.
std::string container_of(std::string_view seg, std::string& runtime) {
    strip_suffix(seg, ".scope");
    if (strip(seg, "cri-containerd-"))
        runtime = "containerd";
    else if (strip(seg, "crio-conmon-") || strip(seg, "crio-"))
        runtime = "crio";
    else if (strip(seg, "docker-") || strip(seg, "cri-dockerd-"))
        runtime = "docker";
    return seg.size() == 64 && is_hex(seg) ? std::string(seg) : std::string();
}

} // namespace

std::optional<CgroupPod> parse_kubepods_path(std::string_view path) {
    auto segs = split(path, '/');
    for (size_t i = 0; i < segs.size(); ++i) {
        std::string_view s = segs[i];
        CgroupPod p;
        std::optional<std::string> uid;
        if (s == "kubepods" || s == "kubepods.slice") {
            // cgroupfs: kubepods[/qos]/pod<uid>; systemd: the pod slice comes as its own segment
            // below, matched in the next branch.
            if (s == "kubepods.slice")
                continue;
            size_t j = i + 1;
            p.qos = "guaranteed";
            if (j < segs.size() && (segs[j] == "besteffort" || segs[j] == "burstable"))
                p.qos = std::string(segs[j++]);
            if (j >= segs.size())
                return std::nullopt;
            std::string_view pod = segs[j];
            if (!strip(pod, "pod") || !(uid = uid_of(pod, '-')))
                return std::nullopt;
            p.pod_uid = *uid;
            if (j + 1 < segs.size())
                p.container_id = container_of(segs[j + 1], p.runtime);
            return p;
        }
        // systemd: kubepods-besteffort-pod<uid_>.slice, kubepods-burstable-pod..., kubepods-pod...
        std::string_view slice = s;
        strip(slice, "kubelet-"); // kind: the kubelet's --cgroup-root=/kubelet
        if (!strip(slice, "kubepods-") || !strip_suffix(slice, ".slice"))
            continue;
        p.qos = "guaranteed";
        if (strip(slice, "besteffort-"))
            p.qos = "besteffort";
        else if (strip(slice, "burstable-"))
            p.qos = "burstable";
        if (!strip(slice, "pod"))
            continue; // the QoS slice itself
        if (!(uid = uid_of(slice, '_')))
            return std::nullopt;
        p.pod_uid = *uid;
        if (i + 1 < segs.size())
            p.container_id = container_of(segs[i + 1], p.runtime);
        return p;
    }
    return std::nullopt;
}

std::optional<CgroupPod> parse_proc_cgroup(std::string_view text) {
    for (auto line : split(text, '\n')) {
        // hierarchy-ID:controller-list:cgroup-path (the path may itself contain ':')
        size_t a = line.find(':');
        if (a == std::string_view::npos)
            continue;
        size_t b = line.find(':', a + 1);
        if (b == std::string_view::npos)
            continue;
        std::string_view path = line.substr(b + 1);
        if (path.find("kubepods") == std::string_view::npos)
            continue;
        if (auto p = parse_kubepods_path(path))
            return p;
    }
    return std::nullopt;
}

} // namespace tif
