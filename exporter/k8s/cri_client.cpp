#include "k8s/cri_client.h"

#include <grpcpp/grpcpp.h>

#include <nlohmann/json.hpp>
#include <set>

#include "api.grpc.pb.h"

namespace tif {

namespace rt = runtime::v1;

struct CriClient::Impl {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<rt::RuntimeService::Stub> stub;
};

CriClient::CriClient(std::string endpoint, std::chrono::milliseconds deadline)
    : endpoint_(std::move(endpoint)), deadline_(deadline), impl_(std::make_unique<Impl>()) {}

// On the first call, in the resolver's thread: gRPC starts its own threads (timers, executor,
// pollers) with the channel, and they inherit the capabilities of the thread that creates it.
// Created from the daemon's main thread before it drops its start-up capabilities, they would
// keep CAP_BPF and CAP_PERFMON for the process's life; from the resolver's thread they hold
// what it holds (pod_resolver.cpp).
void CriClient::connect() {
    if (impl_->stub)
        return;
    std::string target = endpoint_;
    if (!target.starts_with("unix:") && !target.empty() && target[0] == '/')
        target = "unix://" + target;
    grpc::ChannelArguments args;
    // A runtime that is down should be retried soon after it returns, not after minutes of
    // backoff; the resolver's own interval paces the calls.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
    args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 16 << 20);
    impl_->channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    impl_->stub = rt::RuntimeService::NewStub(impl_->channel);
}

CriClient::~CriClient() = default;

void parse_verbose_info(const std::string& json_text, CriPod& out) {
    auto j = nlohmann::json::parse(json_text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return;
    if (auto it = j.find("pid"); it != j.end() && it->is_number_integer())
        out.pid = it->get<int64_t>();
    auto nss = j.value(nlohmann::json::json_pointer("/runtimeSpec/linux/namespaces"),
                       nlohmann::json::array());
    if (!nss.is_array())
        return;
    for (const auto& ns : nss)
        if (ns.is_object() && ns.value("type", "") == "network") {
            auto p = ns.find("path");
            if (p != ns.end() && p->is_string())
                out.netns_path = p->get<std::string>();
        }
}

Result<std::vector<CriPod>> CriClient::list_pods() {
    connect();
    auto deadline = [&](grpc::ClientContext& c) {
        c.set_deadline(std::chrono::system_clock::now() + deadline_);
    };
    rt::ListPodSandboxRequest req;
    rt::ListPodSandboxResponse resp;
    {
        grpc::ClientContext c;
        deadline(c);
        grpc::Status st = impl_->stub->ListPodSandbox(&c, req, &resp);
        if (!st.ok()) {
            errors_.list.fetch_add(1, std::memory_order_relaxed);
            return Error{EIO, "CRI ListPodSandbox on " + endpoint_ + ": " + st.error_message() +
                                  " (code " + std::to_string(int(st.error_code())) + ")"};
        }
    }
    std::vector<CriPod> out;
    std::set<std::string> seen;
    for (const auto& s : resp.items()) {
        seen.insert(s.id());
        CriPod p;
        p.id = s.id();
        p.namespace_ = s.metadata().namespace_();
        p.name = s.metadata().name();
        p.uid = s.metadata().uid();
        p.ready = s.state() == rt::SANDBOX_READY;
        p.labels.insert(s.labels().begin(), s.labels().end());
        if (auto it = status_cache_.find(p.id); it != status_cache_.end()) {
            p.pid = it->second.pid;
            p.netns_path = it->second.netns_path;
            p.host_network = it->second.host_network;
        } else if (p.ready) {
            rt::PodSandboxStatusRequest sreq;
            sreq.set_pod_sandbox_id(p.id);
            sreq.set_verbose(true);
            rt::PodSandboxStatusResponse sresp;
            grpc::ClientContext c;
            deadline(c);
            grpc::Status st = impl_->stub->PodSandboxStatus(&c, sreq, &sresp);
            if (!st.ok()) {
                errors_.status.fetch_add(1, std::memory_order_relaxed);
            } else {
                if (auto it = sresp.info().find("info"); it != sresp.info().end())
                    parse_verbose_info(it->second, p);
                p.host_network =
                    sresp.status().linux().namespaces().options().network() == rt::NODE;
                if (p.pid > 0 || p.host_network)
                    status_cache_[p.id] = p;
            }
        }
        out.push_back(std::move(p));
    }
    std::erase_if(status_cache_, [&](const auto& kv) { return !seen.contains(kv.first); });
    return out;
}

} // namespace tif
