#include "config/k8s_options.h"

#include <sys/stat.h>

#include <cctype>

#include "config/options.h"

namespace tif {

const std::vector<std::string>& k8s_endpoint_candidates() {
    static const std::vector<std::string> c = {
        "/run/containerd/containerd.sock",
        "/var/run/containerd/containerd.sock",
        "/run/k3s/containerd/containerd.sock",
        "/var/run/crio/crio.sock",
        "/run/crio/crio.sock",
        "/var/run/cri-dockerd.sock",
    };
    return c;
}

std::string resolve_cri_endpoint(const K8sOptions& o) {
    if (o.cri_endpoint != K8S_ENDPOINT_AUTO)
        return o.cri_endpoint;
    for (const auto& c : k8s_endpoint_candidates()) {
        struct stat st {};
        if (::stat((o.host_root + c).c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
            return "unix://" + o.host_root + c;
    }
    return "";
}

void add_k8s_flags(FlagMap& flags, K8sOptions& o) {
    flags["--k8s.cri-endpoint"] = [&o](std::string_view v) -> Status {
        if (!v.empty() && v != K8S_ENDPOINT_AUTO && !v.starts_with("unix://") && v.front() != '/')
            return Error{EINVAL, "--k8s.cri-endpoint: auto, \"\", unix:///PATH or /PATH: \"" +
                                     std::string(v) + "\""};
        o.cri_endpoint = std::string(v);
        return Ok{};
    };
    flags["--k8s.host-root"] = [&o](std::string_view v) -> Status {
        if (!v.empty() && v.front() != '/')
            return Error{EINVAL, "--k8s.host-root: an absolute directory or \"\": \"" +
                                     std::string(v) + "\""};
        std::string s(v);
        while (s.size() > 1 && s.back() == '/')
            s.pop_back();
        o.host_root = s == "/" ? "" : s;
        return Ok{};
    };
    flags["--k8s.cgroup-root"] = [&o](std::string_view v) -> Status {
        if (!v.empty() && v != "auto" && v.front() != '/')
            return Error{EINVAL, "--k8s.cgroup-root: auto, \"\" or an absolute directory: \"" +
                                     std::string(v) + "\""};
        o.cgroup_root = std::string(v);
        return Ok{};
    };
    flags["--k8s.pod-labels"] = [&o](std::string_view v) -> Status {
        std::vector<std::string> keys;
        std::vector<std::string> names;
        for (size_t b = 0; b <= v.size() && !v.empty();) {
            size_t e = v.find(',', b);
            if (e == std::string_view::npos)
                e = v.size();
            std::string_view k = v.substr(b, e - b);
            // A Kubernetes label key: [prefix/]name, at most 253 + 63 characters.
            const bool ok =
                !k.empty() && k.size() <= 317 &&
                k.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789-_./") == std::string_view::npos;
            if (!ok)
                return Error{EINVAL, "--k8s.pod-labels: comma-separated pod label keys: \"" +
                                         std::string(k) + "\""};
            const std::string n = pod_label_metric_name(k);
            for (size_t i = 0; i < names.size(); ++i)
                if (names[i] == n)
                    return Error{EINVAL, "--k8s.pod-labels: \"" + keys[i] + "\" and \"" +
                                             std::string(k) + "\" both become " + n};
            keys.emplace_back(k);
            names.push_back(n);
            b = e + 1;
        }
        if (keys.size() > 32)
            return Error{EINVAL, "--k8s.pod-labels: at most 32 keys"};
        o.pod_labels = std::move(keys);
        return Ok{};
    };
    flags["--k8s.relist-interval"] = [&o](std::string_view v) -> Status {
        auto d = parse_duration_ns("--k8s.relist-interval", v);
        if (!d)
            return d.error();
        if (*d < 1'000'000'000 || *d > 600'000'000'000)
            return Error{EINVAL, "--k8s.relist-interval: a duration from 1s to 10m: \"" +
                                     std::string(v) + "\""};
        o.relist_interval_ns = *d;
        return Ok{};
    };
}

std::string pod_label_metric_name(std::string_view key) {
    std::string n = "label_";
    for (char c : key)
        n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return n;
}

std::string k8s_usage() {
    return "\nKubernetes pod identity (namespace/pod of a veth and of a socket's netns):\n"
           "  --k8s.cri-endpoint=EP           CRI socket (unix:///PATH or /PATH); auto = the\n"
           "                                  first of containerd, k3s, CRI-O, cri-dockerd\n"
           "                                  sockets that exists; \"\" = off (default auto)\n"
           "  --k8s.host-root=DIR             where the node's / is mounted, for auto, /proc\n"
           "                                  and netns paths (default \"\" = /)\n"
           "  --k8s.relist-interval=DUR       list the pods at least this often (default 10s)\n"
           "  --k8s.cgroup-root=DIR           cgroup v2 mount naming hostNetwork pods' sockets;\n"
           "                                  auto = host-root's /sys/fs/cgroup (or its\n"
           "                                  unified/) if cgroup2; \"\" = off (default auto)\n"
           "  --k8s.pod-labels=LIST           pod label keys copied onto\n"
           "                                  traceiface_interface_info as label_<key>\n"
           "                                  (default none)\n";
}

} // namespace tif
