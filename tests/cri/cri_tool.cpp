// cri_tool: a small CRI (runtime.v1) client over a unix socket, for the integration tests
// (tests/integration/cri_lib.sh). crictl is not packaged in Debian 12; this covers what the
// tests need and prints JSON for jq.
//
//   cri_tool [--endpoint unix:///path] [--timeout SECS] COMMAND ...
//     version | status
//     run-pod --name N --namespace NS [--uid UID] [--cgroup-parent P] [--host-network]
//             [--privileged] [--hostname H] [--log-dir D] [--attempt N] [--runtime-handler H]
//             [--label k=v]... [--annotation k=v]...              prints the sandbox id
//     stop-pod ID | remove-pod ID | pod-status ID
//     list-pods [--name N] [--namespace NS] [--label k=v]... [--state ready|notready]
//     create-container POD_ID --name N --image IMG [--command ARG]... [--arg ARG]...
//             [--env K=V]... [--mount HOST:CONTAINER[:ro][,rslave|,rshared]]...
//             [--cap-add C]... [--cap-drop C]... [--run-as-user N] [--run-as-group N]
//             [--supplemental-group N]...
//             [--no-new-privs] [--privileged] [--readonly-rootfs] [--host-network]
//             [--label k=v]... [--annotation k=v]... [-- COMMAND ARGS...]
//                                                                 prints the container id
//     start-container ID | stop-container ID [--grace SECS] | remove-container ID
//     container-status ID | list-containers [--pod ID] [--name N]
//     exec ID [--grace SECS] -- CMD ARGS...      stdout/stderr passed on, exits with CMD's code
//     images
//
// The endpoint defaults to $CRI_ENDPOINT, else unix:///run/containerd/containerd.sock.
// Exit codes: 0 ok, 1 the runtime answered with an error (or is unreachable), 2 bad usage.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "api.grpc.pb.h"

namespace rt = runtime::v1;
using nlohmann::json;

namespace {

[[noreturn]] void usage_error(const std::string& m) {
    std::fprintf(stderr, "cri_tool: %s (see the header of tests/cri/cri_tool.cpp)\n", m.c_str());
    std::exit(2);
}

[[noreturn]] void rpc_error(const char* call, const grpc::Status& s) {
    static const char* const names[] = {"OK",
                                        "CANCELLED",
                                        "UNKNOWN",
                                        "INVALID_ARGUMENT",
                                        "DEADLINE_EXCEEDED",
                                        "NOT_FOUND",
                                        "ALREADY_EXISTS",
                                        "PERMISSION_DENIED",
                                        "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION",
                                        "ABORTED",
                                        "OUT_OF_RANGE",
                                        "UNIMPLEMENTED",
                                        "INTERNAL",
                                        "UNAVAILABLE",
                                        "DATA_LOSS",
                                        "UNAUTHENTICATED"};
    int c = static_cast<int>(s.error_code());
    const char* name = c >= 0 && c <= 16 ? names[c] : "?";
    std::fprintf(stderr, "cri_tool: %s failed: %s: %s\n", call, name, s.error_message().c_str());
    std::exit(1);
}

// argv after the command: flags (--x value, or bare --x for booleans), positionals, and
// everything after "--".
struct Args {
    std::multimap<std::string, std::string> flags;
    std::vector<std::string> positional;
    std::vector<std::string> rest;

    std::optional<std::string> get(const std::string& k) const {
        auto it = flags.find(k);
        if (it == flags.end())
            return std::nullopt;
        return it->second;
    }
    std::string need(const std::string& k) const {
        auto v = get(k);
        if (!v || v->empty())
            usage_error("missing --" + k);
        return *v;
    }
    std::vector<std::string> all(const std::string& k) const {
        std::vector<std::string> out;
        auto [b, e] = flags.equal_range(k);
        for (auto it = b; it != e; ++it)
            out.push_back(it->second);
        return out;
    }
    bool has(const std::string& k) const { return flags.count(k) != 0; }
};

Args parse(int argc, char** argv, int start, const std::vector<std::string>& booleans) {
    Args a;
    for (int i = start; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "--") {
            a.rest.assign(argv + i + 1, argv + argc);
            break;
        }
        if (s.rfind("--", 0) == 0) {
            std::string k = s.substr(2), v;
            if (auto eq = k.find('='); eq != std::string::npos) {
                v = k.substr(eq + 1);
                k = k.substr(0, eq);
            } else if (std::find(booleans.begin(), booleans.end(), k) != booleans.end()) {
                v = "true";
            } else {
                if (i + 1 >= argc)
                    usage_error("--" + k + " needs a value");
                v = argv[++i];
            }
            a.flags.emplace(k, v);
        } else {
            a.positional.push_back(s);
        }
    }
    return a;
}

std::string one_id(const Args& a, const char* what) {
    if (a.positional.size() != 1)
        usage_error(std::string("expected exactly one ") + what);
    return a.positional[0];
}

std::pair<std::string, std::string> key_value(const std::string& s, const char* flag) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
        usage_error(std::string("--") + flag + " wants KEY=VALUE, got '" + s + "'");
    return {s.substr(0, eq), s.substr(eq + 1)};
}

template <class Map>
void put_key_values(Map* m, const std::vector<std::string>& kvs, const char* f) {
    for (const auto& s : kvs) {
        auto [k, v] = key_value(s, f);
        (*m)[k] = v;
    }
}

template <class Map> json map_json(const Map& m) {
    json j = json::object();
    for (const auto& [k, v] : m)
        j[k] = v;
    return j;
}

std::string random_uid() {
    std::random_device rd;
    std::uniform_int_distribution<int> d(0, 15);
    std::string u = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
    for (auto& c : u) {
        if (c == 'x' || c == 'y') {
            int n = d(rd);
            if (c == 'y')
                n = 8 + (n & 3);
            c = "0123456789abcdef"[n];
        }
    }
    return u;
}

long to_long(const std::string& s, const char* what) {
    try {
        size_t pos = 0;
        long v = std::stol(s, &pos);
        if (pos != s.size())
            throw std::invalid_argument(s);
        return v;
    } catch (const std::exception&) {
        usage_error(std::string(what) + ": not a number: '" + s + "'");
    }
}

const char* ns_mode(rt::NamespaceMode m) {
    switch (m) {
    case rt::POD:
        return "pod";
    case rt::CONTAINER:
        return "container";
    case rt::NODE:
        return "node";
    case rt::TARGET:
        return "target";
    default:
        return "?";
    }
}

const char* container_state(rt::ContainerState s) {
    switch (s) {
    case rt::CONTAINER_CREATED:
        return "created";
    case rt::CONTAINER_RUNNING:
        return "running";
    case rt::CONTAINER_EXITED:
        return "exited";
    default:
        return "unknown";
    }
}

class Client {
  public:
    Client(const std::string& endpoint, int timeout_s)
        : channel_(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials())),
          runtime_(rt::RuntimeService::NewStub(channel_)),
          images_(rt::ImageService::NewStub(channel_)), timeout_s_(timeout_s) {}

    // Call a unary RPC with the deadline; exit 1 on failure.
    template <class Stub, class Req, class Resp>
    Resp call(const char* name, Stub* stub,
              grpc::Status (Stub::*fn)(grpc::ClientContext*, const Req&, Resp*), const Req& req) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_s_));
        Resp resp;
        grpc::Status st = (stub->*fn)(&ctx, req, &resp);
        if (!st.ok())
            rpc_error(name, st);
        return resp;
    }

    rt::RuntimeService::Stub* runtime() { return runtime_.get(); }
    rt::ImageService::Stub* images() { return images_.get(); }

  private:
    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<rt::RuntimeService::Stub> runtime_;
    std::unique_ptr<rt::ImageService::Stub> images_;
    int timeout_s_;
};

#define RPC(client, stub, Name, req)                                                               \
    (client).call(#Name, (client).stub(), &std::remove_pointer_t<decltype((client).stub())>::Name, \
                  (req))

void print(const json& j) {
    std::cout << j.dump(2) << "\n";
}

// The runtime's verbose info: containerd puts one JSON document under "info" (pid, the OCI
// runtime spec, the sandbox config, ...). Anything that does not parse is returned as a string.
json verbose_info(const google::protobuf::Map<std::string, std::string>& info) {
    json out = json::object();
    for (const auto& [k, v] : info) {
        json parsed = json::parse(v, nullptr, false);
        out[k] = parsed.is_discarded() ? json(v) : parsed;
    }
    return out;
}

json pod_status_json(const rt::PodSandboxStatusResponse& r) {
    const auto& s = r.status();
    json j;
    j["id"] = s.id();
    j["name"] = s.metadata().name();
    j["namespace"] = s.metadata().namespace_();
    j["uid"] = s.metadata().uid();
    j["attempt"] = s.metadata().attempt();
    j["state"] = s.state() == rt::SANDBOX_READY ? "ready" : "notready";
    j["created_at"] = s.created_at();
    j["ip"] = s.network().ip();
    json extra = json::array();
    for (const auto& ip : s.network().additional_ips())
        extra.push_back(ip.ip());
    j["additional_ips"] = extra;
    j["network_mode"] = ns_mode(s.linux().namespaces().options().network());
    j["labels"] = map_json(s.labels());
    j["annotations"] = map_json(s.annotations());
    j["runtime_handler"] = s.runtime_handler();

    // From the verbose info (containerd's layout): the sandbox's pid, the netns path, the
    // cgroup parent it was created with.
    json info = verbose_info(r.info());
    j["pid"] = nullptr;
    j["netns"] = nullptr;
    j["cgroup_parent"] = nullptr;
    if (info.contains("info") && info["info"].is_object()) {
        const json& in = info["info"];
        if (in.contains("pid") && in["pid"].is_number())
            j["pid"] = in["pid"];
        auto nss = in.value("/runtimeSpec/linux/namespaces"_json_pointer, json::array());
        for (const auto& ns : nss)
            if (ns.value("type", "") == "network" && ns.contains("path"))
                j["netns"] = ns["path"];
        auto cg = in.value("/config/linux/cgroup_parent"_json_pointer, json());
        if (cg.is_string())
            j["cgroup_parent"] = cg;
    }
    return j;
}

// The sandbox config the pod was created with, as CreateContainer wants it back: containerd
// keeps it in the verbose status ("info" -> "config", Go's JSON of the same message: snake_case
// names, enums as numbers; the protobuf JSON parser takes both). Falls back to what the plain
// status says.
rt::PodSandboxConfig sandbox_config_of(Client& c, const std::string& pod_id) {
    rt::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(pod_id);
    req.set_verbose(true);
    auto r = RPC(c, runtime, PodSandboxStatus, req);
    rt::PodSandboxConfig cfg;
    json info = verbose_info(r.info());
    auto stored = info.value("/info/config"_json_pointer, json());
    if (stored.is_object()) {
        google::protobuf::util::JsonParseOptions opt;
        opt.ignore_unknown_fields = true;
        if (google::protobuf::util::JsonStringToMessage(stored.dump(), &cfg, opt).ok())
            return cfg;
        cfg.Clear();
    }
    const auto& s = r.status();
    *cfg.mutable_metadata() = s.metadata();
    *cfg.mutable_labels() = s.labels();
    *cfg.mutable_annotations() = s.annotations();
    *cfg.mutable_linux()->mutable_security_context()->mutable_namespace_options() =
        s.linux().namespaces().options();
    return cfg;
}

int cmd_version(Client& c, const Args&) {
    rt::VersionRequest req;
    req.set_version("v1");
    auto r = RPC(c, runtime, Version, req);
    print({{"version", r.version()},
           {"runtime_name", r.runtime_name()},
           {"runtime_version", r.runtime_version()},
           {"runtime_api_version", r.runtime_api_version()}});
    return 0;
}

int cmd_status(Client& c, const Args&) {
    rt::StatusRequest req;
    auto r = RPC(c, runtime, Status, req);
    json conds = json::object();
    for (const auto& cond : r.status().conditions())
        conds[cond.type()] = {
            {"status", cond.status()}, {"reason", cond.reason()}, {"message", cond.message()}};
    print({{"conditions", conds}});
    return 0;
}

int cmd_run_pod(Client& c, const Args& a) {
    rt::RunPodSandboxRequest req;
    auto* cfg = req.mutable_config();
    auto* md = cfg->mutable_metadata();
    md->set_name(a.need("name"));
    md->set_namespace_(a.need("namespace"));
    md->set_uid(a.get("uid").value_or(random_uid()));
    md->set_attempt(static_cast<uint32_t>(to_long(a.get("attempt").value_or("0"), "--attempt")));
    // As the kubelet: a hostNetwork pod keeps the node's UTS namespace and gets no hostname
    // (runc refuses to set one without a private UTS namespace).
    if (!a.has("host-network"))
        cfg->set_hostname(a.get("hostname").value_or(md->name()));
    if (auto d = a.get("log-dir"))
        cfg->set_log_directory(*d);
    put_key_values(cfg->mutable_labels(), a.all("label"), "label");
    put_key_values(cfg->mutable_annotations(), a.all("annotation"), "annotation");
    auto* linux = cfg->mutable_linux();
    if (auto p = a.get("cgroup-parent"))
        linux->set_cgroup_parent(*p);
    auto* nso = linux->mutable_security_context()->mutable_namespace_options();
    nso->set_network(a.has("host-network") ? rt::NODE : rt::POD);
    nso->set_pid(rt::CONTAINER);
    nso->set_ipc(rt::POD);
    // As the kubelet sets it when any container of the pod is privileged; containerd refuses a
    // privileged container in a sandbox that is not.
    linux->mutable_security_context()->set_privileged(a.has("privileged"));
    if (auto h = a.get("runtime-handler"))
        req.set_runtime_handler(*h);
    auto r = RPC(c, runtime, RunPodSandbox, req);
    std::cout << r.pod_sandbox_id() << "\n";
    return 0;
}

int cmd_stop_pod(Client& c, const Args& a) {
    rt::StopPodSandboxRequest req;
    req.set_pod_sandbox_id(one_id(a, "pod id"));
    RPC(c, runtime, StopPodSandbox, req);
    return 0;
}

int cmd_remove_pod(Client& c, const Args& a) {
    rt::RemovePodSandboxRequest req;
    req.set_pod_sandbox_id(one_id(a, "pod id"));
    RPC(c, runtime, RemovePodSandbox, req);
    return 0;
}

int cmd_pod_status(Client& c, const Args& a) {
    rt::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(one_id(a, "pod id"));
    req.set_verbose(true);
    auto r = RPC(c, runtime, PodSandboxStatus, req);
    json j = pod_status_json(r);
    if (a.has("verbose"))
        j["info"] = verbose_info(r.info());
    print(j);
    return 0;
}

int cmd_list_pods(Client& c, const Args& a) {
    rt::ListPodSandboxRequest req;
    auto* f = req.mutable_filter();
    put_key_values(f->mutable_label_selector(), a.all("label"), "label");
    if (auto s = a.get("state")) {
        if (*s != "ready" && *s != "notready")
            usage_error("--state is ready or notready");
        f->mutable_state()->set_state(*s == "ready" ? rt::SANDBOX_READY : rt::SANDBOX_NOTREADY);
    }
    auto r = RPC(c, runtime, ListPodSandbox, req);
    json out = json::array();
    for (const auto& p : r.items()) {
        if (auto n = a.get("name"); n && p.metadata().name() != *n)
            continue;
        if (auto n = a.get("namespace"); n && p.metadata().namespace_() != *n)
            continue;
        out.push_back({{"id", p.id()},
                       {"name", p.metadata().name()},
                       {"namespace", p.metadata().namespace_()},
                       {"uid", p.metadata().uid()},
                       {"attempt", p.metadata().attempt()},
                       {"state", p.state() == rt::SANDBOX_READY ? "ready" : "notready"},
                       {"created_at", p.created_at()},
                       {"labels", map_json(p.labels())},
                       {"annotations", map_json(p.annotations())}});
    }
    print(out);
    return 0;
}

int cmd_create_container(Client& c, const Args& a) {
    rt::CreateContainerRequest req;
    const std::string pod = one_id(a, "pod id");
    req.set_pod_sandbox_id(pod);
    *req.mutable_sandbox_config() = sandbox_config_of(c, pod);
    auto* cfg = req.mutable_config();
    cfg->mutable_metadata()->set_name(a.need("name"));
    cfg->mutable_image()->set_image(a.need("image"));
    std::vector<std::string> command = a.all("command");
    if (command.empty())
        command = a.rest;
    else
        for (const auto& r : a.rest)
            cfg->add_args(r);
    for (const auto& s : command)
        cfg->add_command(s);
    for (const auto& s : a.all("arg"))
        cfg->add_args(s);
    for (const auto& s : a.all("env")) {
        auto [k, v] = key_value(s, "env");
        auto* kv = cfg->add_envs();
        kv->set_key(k);
        kv->set_value(v);
    }
    for (const auto& s : a.all("mount")) {
        // HOST:CONTAINER[:OPT[,OPT]] with OPT ro, rw, private, rslave (Kubernetes'
        // HostToContainer) or rshared (Bidirectional).
        auto c1 = s.find(':');
        if (c1 == std::string::npos || c1 == 0)
            usage_error("--mount wants HOST:CONTAINER[:ro][,rslave|,rshared], got '" + s + "'");
        std::string host = s.substr(0, c1), rest = s.substr(c1 + 1), mode;
        if (auto c2 = rest.find(':'); c2 != std::string::npos) {
            mode = rest.substr(c2 + 1);
            rest = rest.substr(0, c2);
        }
        bool ro = false;
        auto prop = rt::PROPAGATION_PRIVATE;
        for (size_t b = 0; !mode.empty() && b <= mode.size();) {
            size_t e = mode.find(',', b);
            if (e == std::string::npos)
                e = mode.size();
            const std::string opt = mode.substr(b, e - b);
            if (opt == "ro" || opt == "rw")
                ro = opt == "ro";
            else if (opt == "private")
                prop = rt::PROPAGATION_PRIVATE;
            else if (opt == "rslave")
                prop = rt::PROPAGATION_HOST_TO_CONTAINER;
            else if (opt == "rshared")
                prop = rt::PROPAGATION_BIDIRECTIONAL;
            else
                rest.clear();
            b = e + 1;
        }
        if (rest.empty())
            usage_error("--mount wants HOST:CONTAINER[:ro][,rslave|,rshared], got '" + s + "'");
        auto* m = cfg->add_mounts();
        m->set_host_path(host);
        m->set_container_path(rest);
        m->set_readonly(ro);
        m->set_propagation(prop);
    }
    put_key_values(cfg->mutable_labels(), a.all("label"), "label");
    put_key_values(cfg->mutable_annotations(), a.all("annotation"), "annotation");
    cfg->set_log_path(cfg->metadata().name() + ".log");

    auto* sc = cfg->mutable_linux()->mutable_security_context();
    for (const auto& cap : a.all("cap-add"))
        sc->mutable_capabilities()->add_add_capabilities(cap);
    for (const auto& cap : a.all("cap-drop"))
        sc->mutable_capabilities()->add_drop_capabilities(cap);
    if (auto u = a.get("run-as-user"))
        sc->mutable_run_as_user()->set_value(to_long(*u, "--run-as-user"));
    if (auto g = a.get("run-as-group"))
        sc->mutable_run_as_group()->set_value(to_long(*g, "--run-as-group"));
    for (const auto& g : a.all("supplemental-group"))
        sc->add_supplemental_groups(to_long(g, "--supplemental-group"));
    sc->set_no_new_privs(a.has("no-new-privs"));
    sc->set_privileged(a.has("privileged"));
    sc->set_readonly_rootfs(a.has("readonly-rootfs"));
    // The container shares the pod's network (and ipc) namespace; its pid namespace is its own.
    auto* nso = sc->mutable_namespace_options();
    const auto& pod_nso = req.sandbox_config().linux().security_context().namespace_options();
    nso->set_network(a.has("host-network") ? rt::NODE : pod_nso.network());
    nso->set_ipc(pod_nso.ipc());
    nso->set_pid(rt::CONTAINER);
    if (a.has("host-network"))
        req.mutable_sandbox_config()
            ->mutable_linux()
            ->mutable_security_context()
            ->mutable_namespace_options()
            ->set_network(rt::NODE);

    auto r = RPC(c, runtime, CreateContainer, req);
    std::cout << r.container_id() << "\n";
    return 0;
}

int cmd_start_container(Client& c, const Args& a) {
    rt::StartContainerRequest req;
    req.set_container_id(one_id(a, "container id"));
    RPC(c, runtime, StartContainer, req);
    return 0;
}

int cmd_stop_container(Client& c, const Args& a) {
    rt::StopContainerRequest req;
    req.set_container_id(one_id(a, "container id"));
    req.set_timeout(to_long(a.get("grace").value_or("10"), "--grace"));
    RPC(c, runtime, StopContainer, req);
    return 0;
}

int cmd_remove_container(Client& c, const Args& a) {
    rt::RemoveContainerRequest req;
    req.set_container_id(one_id(a, "container id"));
    RPC(c, runtime, RemoveContainer, req);
    return 0;
}

int cmd_container_status(Client& c, const Args& a) {
    rt::ContainerStatusRequest req;
    req.set_container_id(one_id(a, "container id"));
    req.set_verbose(true);
    auto r = RPC(c, runtime, ContainerStatus, req);
    const auto& s = r.status();
    json mounts = json::array();
    for (const auto& m : s.mounts())
        mounts.push_back({{"host_path", m.host_path()},
                          {"container_path", m.container_path()},
                          {"readonly", m.readonly()}});
    json j = {{"id", s.id()},
              {"name", s.metadata().name()},
              {"state", container_state(s.state())},
              {"created_at", s.created_at()},
              {"started_at", s.started_at()},
              {"finished_at", s.finished_at()},
              {"exit_code", s.exit_code()},
              {"image", s.image().image()},
              {"image_ref", s.image_ref()},
              {"reason", s.reason()},
              {"message", s.message()},
              {"log_path", s.log_path()},
              {"labels", map_json(s.labels())},
              {"annotations", map_json(s.annotations())},
              {"mounts", mounts},
              {"pid", nullptr}};
    json info = verbose_info(r.info());
    if (auto pid = info.value("/info/pid"_json_pointer, json()); pid.is_number())
        j["pid"] = pid;
    if (a.has("verbose"))
        j["info"] = info;
    print(j);
    return 0;
}

int cmd_list_containers(Client& c, const Args& a) {
    rt::ListContainersRequest req;
    if (auto p = a.get("pod"))
        req.mutable_filter()->set_pod_sandbox_id(*p);
    auto r = RPC(c, runtime, ListContainers, req);
    json out = json::array();
    for (const auto& k : r.containers()) {
        if (auto n = a.get("name"); n && k.metadata().name() != *n)
            continue;
        out.push_back({{"id", k.id()},
                       {"pod_sandbox_id", k.pod_sandbox_id()},
                       {"name", k.metadata().name()},
                       {"image", k.image().image()},
                       {"image_ref", k.image_ref()},
                       {"state", container_state(k.state())},
                       {"created_at", k.created_at()},
                       {"labels", map_json(k.labels())}});
    }
    print(out);
    return 0;
}

int cmd_exec(Client& c, const Args& a) {
    rt::ExecSyncRequest req;
    req.set_container_id(one_id(a, "container id"));
    if (a.rest.empty())
        usage_error("exec wants the command after --");
    for (const auto& s : a.rest)
        req.add_cmd(s);
    req.set_timeout(to_long(a.get("grace").value_or("0"), "--grace"));
    auto r = RPC(c, runtime, ExecSync, req);
    std::fwrite(r.stdout().data(), 1, r.stdout().size(), stdout);
    std::fwrite(r.stderr().data(), 1, r.stderr().size(), stderr);
    return r.exit_code();
}

int cmd_images(Client& c, const Args&) {
    rt::ListImagesRequest req;
    auto r = RPC(c, images, ListImages, req);
    json out = json::array();
    for (const auto& im : r.images()) {
        out.push_back(
            {{"id", im.id()},
             {"repo_tags",
              json(std::vector<std::string>(im.repo_tags().begin(), im.repo_tags().end()))},
             {"repo_digests",
              json(std::vector<std::string>(im.repo_digests().begin(), im.repo_digests().end()))},
             {"size", im.size()}});
    }
    print(out);
    return 0;
}

struct Command {
    const char* name;
    int (*fn)(Client&, const Args&);
    std::vector<std::string> booleans;
};

const std::vector<Command>& commands() {
    static const std::vector<Command> cmds = {
        {"version", cmd_version, {}},
        {"status", cmd_status, {}},
        {"run-pod", cmd_run_pod, {"host-network", "privileged"}},
        {"stop-pod", cmd_stop_pod, {}},
        {"remove-pod", cmd_remove_pod, {}},
        {"pod-status", cmd_pod_status, {"verbose"}},
        {"list-pods", cmd_list_pods, {}},
        {"create-container",
         cmd_create_container,
         {"host-network", "privileged", "readonly-rootfs", "no-new-privs"}},
        {"start-container", cmd_start_container, {}},
        {"stop-container", cmd_stop_container, {}},
        {"remove-container", cmd_remove_container, {}},
        {"container-status", cmd_container_status, {"verbose"}},
        {"list-containers", cmd_list_containers, {}},
        {"exec", cmd_exec, {}},
        {"images", cmd_images, {}},
    };
    return cmds;
}

} // namespace

int main(int argc, char** argv) {
    const char* env = std::getenv("CRI_ENDPOINT");
    std::string endpoint = env && *env ? env : "unix:///run/containerd/containerd.sock";
    int timeout_s = 30;
    int i = 1;
    for (; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "--endpoint" && i + 1 < argc)
            endpoint = argv[++i];
        else if (s.rfind("--endpoint=", 0) == 0)
            endpoint = s.substr(11);
        else if (s == "--timeout" && i + 1 < argc)
            timeout_s = static_cast<int>(to_long(argv[++i], "--timeout"));
        else if (s == "-h" || s == "--help")
            usage_error("usage");
        else
            break;
    }
    if (i >= argc)
        usage_error("no command");
    // A bare path is taken as a unix socket.
    if (!endpoint.empty() && endpoint[0] == '/')
        endpoint = "unix://" + endpoint;
    const std::string name = argv[i];
    for (const auto& cmd : commands()) {
        if (name == cmd.name) {
            Args a = parse(argc, argv, i + 1, cmd.booleans);
            Client client(endpoint, timeout_s);
            return cmd.fn(client, a);
        }
    }
    usage_error("unknown command '" + name + "'");
}
