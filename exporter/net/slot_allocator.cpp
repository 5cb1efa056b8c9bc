#include "net/slot_allocator.h"

namespace tif {

SlotAllocator::SlotAllocator(uint32_t capacity, Clock::duration grace)
    : slots_(capacity), grace_(grace) {}

std::optional<uint32_t> SlotAllocator::acquire(Clock::time_point now) {
    // Lowest free or expired slot first: keeps the used range dense.
    std::optional<uint32_t> oldest;
    for (uint32_t i = 0; i < slots_.size(); ++i) {
        Slot& s = slots_[i];
        if (s.state == State::free || (s.state == State::released && now - s.released >= grace_)) {
            s.state = State::active;
            return i;
        }
        if (s.state == State::released && (!oldest || s.released < slots_[*oldest].released))
            oldest = i;
    }
    if (oldest)
        slots_[*oldest].state = State::active; // cut its grace short rather than refuse
    return oldest;
}

void SlotAllocator::release(uint32_t slot, Clock::time_point now) {
    slots_.at(slot).state = State::released;
    slots_.at(slot).released = now;
}

void SlotAllocator::drop(uint32_t slot) {
    slots_.at(slot) = Slot{};
}

bool SlotAllocator::reserve(uint32_t slot) {
    if (slot >= slots_.size() || slots_[slot].state != State::free)
        return false;
    slots_[slot].state = State::active;
    return true;
}

bool SlotAllocator::visible(uint32_t slot, Clock::time_point now) const {
    const Slot& s = slots_.at(slot);
    return s.state == State::active || (s.state == State::released && now - s.released < grace_);
}

} // namespace tif
