// Dense counter slots for interfaces. A released slot keeps its counts visible for the grace
// period (so the series of a vanished interface stay until then) and is only reused after it;
// when every slot is taken or still in grace, the one released longest ago is reused early.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace tif {

class SlotAllocator {
  public:
    using Clock = std::chrono::steady_clock;
    SlotAllocator(uint32_t capacity, Clock::duration grace);

    // A slot for a new interface; the caller zeroes its counters before use.
    std::optional<uint32_t> acquire(Clock::time_point now);
    // The interface is gone or no longer watched: visible until now + grace.
    void release(uint32_t slot, Clock::time_point now);
    // Back to free at once (it was never published).
    void drop(uint32_t slot);
    // Takes a specific free slot (a predecessor's binding, adopted from pinned maps); false when
    // it is out of range or already taken.
    bool reserve(uint32_t slot);

    bool active(uint32_t slot) const { return slots_.at(slot).state == State::active; }
    // Active, or released less than the grace period ago.
    bool visible(uint32_t slot, Clock::time_point now) const;
    // When it was released (meaningful for released slots only).
    Clock::time_point released_at(uint32_t slot) const { return slots_.at(slot).released; }
    uint32_t capacity() const { return uint32_t(slots_.size()); }

  private:
    enum class State { free, active, released };
    struct Slot {
        State state = State::free;
        Clock::time_point released{};
    };
    std::vector<Slot> slots_;
    Clock::duration grace_;
};

} // namespace tif
