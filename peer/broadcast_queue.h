// BroadcastQueue: the gossip updates waiting to be piggybacked on outgoing UDP packets (SWIM's
// infection-style dissemination; memberlist's TransmitLimitedQueue). Each entry is an encoded
// message (peer/codec.h encode_message) about one member; a newer message about the same member
// replaces the queued one. take() hands out the least-transmitted entries first (the newest
// among equals), and drops an entry once it has been sent `limit` times
// (swim_rules.h retransmit_limit).
//
// Thread rules: one thread at a time. No I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace shoal::peer {

class BroadcastQueue {
 public:
  // At most `max_entries` entries are kept; beyond that the most-transmitted (then oldest)
  // entry is dropped.
  explicit BroadcastQueue(std::size_t max_entries = 1024) : max_entries_(max_entries) {}

  // Queues `encoded` (an update about member `member_id`), replacing any entry for that member.
  void push(std::string member_id, std::string encoded);

  // Takes entries for one packet: in order of fewest transmissions, then newest, every entry
  // whose size fits in what remains of `budget` bytes, at most `max_count` entries. An entry
  // larger than the whole budget is taken only as the first and only one. Each taken entry
  // counts one transmission; entries sent `limit` times are removed.
  std::vector<std::string> take(std::size_t budget, std::size_t max_count, int limit);

  // Whether an entry for `member_id` is still queued (not yet sent `limit` times).
  bool contains(const std::string& member_id) const;

  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    std::string member_id;
    std::string encoded;
    int transmits = 0;
    std::uint64_t order = 0;  // insertion counter; higher is newer
  };

  void drop_one();

  std::size_t max_entries_;
  std::vector<Entry> entries_;
  std::uint64_t next_order_ = 0;
};

}  // namespace shoal::peer
