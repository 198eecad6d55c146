// IdleList: connections ordered by last activity, oldest first; an intrusive
// doubly linked list, so touching a connection is O(1) and allocates nothing.
// A periodic sweep closes the expired ones from the front.
#pragma once

#include "reactor/timer_queue.hpp"

namespace socketd {

class Connection;

struct IdleHook {
  Connection* owner = nullptr;
  IdleHook* prev = nullptr;
  IdleHook* next = nullptr;
  Clock::time_point last_active{};
  bool linked = false;
};

class IdleList {
 public:
  void touch(IdleHook& hook, Clock::time_point now) {
    hook.last_active = now;
    if (hook.linked) {
      if (tail_ == &hook) return;
      unlink(hook);
    }
    hook.prev = tail_;
    hook.next = nullptr;
    (tail_ ? tail_->next : head_) = &hook;
    tail_ = &hook;
    hook.linked = true;
  }
  void unlink(IdleHook& hook) {
    if (!hook.linked) return;
    (hook.prev ? hook.prev->next : head_) = hook.next;
    (hook.next ? hook.next->prev : tail_) = hook.prev;
    hook.prev = hook.next = nullptr;
    hook.linked = false;
  }
  IdleHook* oldest() const { return head_; }

 private:
  IdleHook* head_ = nullptr;
  IdleHook* tail_ = nullptr;
};

}  // namespace socketd
