// CurlLoop: one libcurl multi handle driven by an Asio io_context through curl's socket API
// (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION / curl_multi_socket_action), following the
// structure of curl's docs/examples/multi-uv.c:
//   - curl says which sockets to watch and for what (CURL_POLL_IN/OUT/INOUT/REMOVE); each watched
//     socket gets a boost::asio::posix::stream_descriptor whose async_wait(wait_read/wait_write)
//     calls curl_multi_socket_action(fd, CURL_CSELECT_IN/OUT). After each event the wait is
//     re-armed only if curl's latest state for that socket still asks for that direction.
//     Descriptors are release()d before destruction: curl owns and closes its sockets. Only
//     sockets curl announced are ever waited on.
//   - curl's single timeout drives one steady_timer that calls
//     curl_multi_socket_action(CURL_SOCKET_TIMEOUT).
//   - after every socket_action, finished transfers are drained with curl_multi_info_read and
//     reported to the DoneHandler.
// Asio's epoll reactor is edge-triggered and async_wait does not try the operation first, so a
// socket that became ready while no wait was queued (for instance, its edge was taken by a
// wait for a direction curl had meanwhile dropped) would never be reported again; arm()
// therefore checks readiness with a zero-timeout poll(2) and posts the event at once when the
// socket is already ready.
//
// Thread rules: everything (including construction, destruction and the DoneHandler) runs on
// the io_context's single thread. CurlLoop never calls curl from inside a curl callback; the
// DoneHandler runs outside curl and may add or remove easy handles.
#pragma once

#include <curl/curl.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>

namespace shoal::origin {

class CurlLoop {
 public:
  // Called once per finished transfer (CURLMSG_DONE) with curl's result code. The handle is
  // still added to the multi handle; the receiver removes it.
  using DoneHandler = std::function<void(CURL* easy, CURLcode result)>;

  // Creates the multi handle. Throws std::runtime_error if curl_multi_init fails.
  CurlLoop(boost::asio::io_context& loop, DoneHandler done);
  // Releases every descriptor and cleans up the multi handle (closing cached connections).
  // All easy handles must have been removed before.
  ~CurlLoop();
  CurlLoop(const CurlLoop&) = delete;
  CurlLoop& operator=(const CurlLoop&) = delete;

  // The multi handle, for curl_multi_setopt (connection limits).
  CURLM* multi() const;

  // Starts a configured transfer; curl's timer callback schedules its first step on the loop.
  // Returns curl_multi_add_handle's code.
  CURLMcode add(CURL* easy);

  // Stops a transfer at once; an unfinished transfer's connection is closed, a finished one's
  // is kept for reuse. No DoneHandler call follows.
  void remove(CURL* easy);

 private:
  struct Core;
  std::shared_ptr<Core> core_;  // shared so that pending Asio handlers can hold weak_ptrs
};

}  // namespace shoal::origin
