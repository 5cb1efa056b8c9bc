#include "net/carry_store.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "iface_ref.h"

namespace tif {

CarryStore::CarryStore(int fd, uint32_t key_size, uint32_t value_u64s)
    : fd_(fd), key_size_(key_size), value_u64s_(value_u64s) {}

// No interface has this namespace inode and index: the first key bytes are a tif_iface_ref.
std::string CarryStore::retired_key() const {
    std::string k(key_size_, '\0');
    tif_iface_ref ref{};
    ref.netns_ino = UINT32_MAX;
    ref.ifindex = UINT32_MAX;
    std::memcpy(k.data(), &ref, std::min<size_t>(sizeof(ref), k.size()));
    return k;
}

Status CarryStore::load(Carry& carry, std::vector<uint64_t>& retired) {
    carry.clear();
    retired.assign(value_u64s_, 0);
    saved_.clear();
    const std::string rk = retired_key();
    std::string cur(key_size_, '\0'), next(key_size_, '\0');
    const void* prev = nullptr;
    std::vector<uint64_t> v(value_u64s_);
    while (bpf_map_get_next_key(fd_, prev, next.data()) == 0) {
        cur = next;
        prev = cur.data();
        if (bpf_map_lookup_elem(fd_, cur.data(), v.data()) != 0)
            continue; // deleted meanwhile (nothing else writes it, but be safe)
        saved_[cur] = v;
        if (cur == rk)
            retired = v;
        else
            carry[cur] = v;
    }
    if (errno != ENOENT)
        return os_error(errno, "read the carry map");
    return Ok{};
}

Status CarryStore::save(const Carry& carry, const std::vector<uint64_t>& retired) {
    Carry want = carry;
    want[retired_key()] = retired;
    for (auto& [k, v] : want)
        v.resize(value_u64s_, 0);
    Status result = Ok{};
    for (auto it = saved_.begin(); it != saved_.end();) {
        if (want.count(it->first)) {
            ++it;
            continue;
        }
        if (bpf_map_delete_elem(fd_, it->first.data()) != 0 && errno != ENOENT) {
            result = os_error(errno, "delete from the carry map");
            ++it;
            continue;
        }
        it = saved_.erase(it);
    }
    for (const auto& [k, v] : want) {
        auto s = saved_.find(k);
        if (s != saved_.end() && s->second == v)
            continue;
        if (bpf_map_update_elem(fd_, k.data(), v.data(), BPF_ANY) != 0) {
            result = os_error(errno, "write the carry map");
            continue;
        }
        saved_[k] = v;
    }
    return result;
}

} // namespace tif
