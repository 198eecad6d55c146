// fuzz_upload: UploadSession over the in-memory UploadTarget, against a model.
//
// Input layout (see README.md; tests/fuzz/make-corpus writes examples):
//   byte 0   flags: bit 0 opening the target fails; bit 1 commit fails;
//            bit 2 max_bytes = byte 1 * 16 (0 stays unlimited); bit 3 words
//            "ok"/"q" instead of "success"/"quit"; bit 4 the connection ends
//            by on_close() alone (reset) instead of FIN + on_close();
//            bit 5 the target is asynchronous: its operations stay pending
//            until the input completes them; bit 6 (async) the pending
//            operations complete after the FIN, before on_close()
//   byte 1   max_bytes / 16 (when bit 2)
//   byte 2   the n-th append fails (0: none)
//   then chunks: a length byte L and L bytes, each one read; L == 0 is the
//   peer's FIN and ends the input. Async: L == 0xFF completes the oldest
//   pending target operation instead; a read waits (completing operations)
//   while the session accepts no input, as the connection does.
//
// Checked, synchronous: the bytes appended are exactly the chunks before the
// end word (none after it, none after a failure); every chunk is answered by
// one ack or an error that closes. Both: nothing is sent after close(); the
// answers are acks, then at most one error; exactly one finished/incomplete
// report once a target was opened and no refusal of the open was sent, with
// the byte count taken; a finished upload holds exactly the chunks before the
// end word and answered every chunk; commit and abandon at most once, never
// abandon after a successful commit, nothing reaches the target after either
// and nothing is appended while the target is full; a session that takes no
// input always has an operation pending.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "fuzz_input.hpp"
#include "service/upload.hpp"
#include "upload_fakes.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace socketd;
  using namespace socketd::fuzz;
  FuzzInput in(data, size);
  const uint8_t flags = in.byte();
  const uint8_t max_sixteenths = in.byte();
  const uint8_t fail_append = in.byte();
  const bool open_fails = flags & 1;
  const bool reset = flags & 16;
  const bool async = flags & 32;
  const bool drain_before_close = flags & 64;

  UploadOptions options;
  if (flags & 4) options.max_bytes = uint64_t{max_sixteenths} * 16;
  if (flags & 8) options.ack_word = "ok", options.end_word = "q";
  MemoryUploadLog storage;
  configure_target(storage, flags, fail_append, std::make_error_code(std::errc::permission_denied));

  RecordingReply reply;
  bool eof = false;
  std::string expected_data;  // the data chunks the session was given, in order
  size_t chunks_fed = 0;
  bool end_word_fed = false;
  {
    UploadSession session(options, test::memory_opener(storage), test::record_results(storage));
    reply.wake_session = &session;

    // The synchronous model, updated chunk by chunk alongside the session.
    bool model_done = false;
    bool model_finished = false;
    uint64_t model_appends = 0;
    while (!in.empty()) {
      const uint8_t length = in.byte();
      if (async && length == kComplete) {
        storage.complete_next();
        continue;
      }
      const std::string_view chunk = in.take(length);
      if (chunk.empty()) {
        eof = true;
        break;
      }
      if (!reply.closed()) wait_for_input(session, storage);
      const bool was_open = !reply.closed();
      const size_t sends_before = reply.sends.size();
      const size_t stored_before = storage.data.size();
      session.on_data(as_span(chunk), reply);
      if (was_open && !end_word_fed) {
        ++chunks_fed;
        if (chunk == options.end_word) {
          end_word_fed = true;
        } else if (!end_word_fed) {
          expected_data += chunk;
        }
      }
      if (async) continue;
      const auto new_sends = reply.sends.size() - sends_before;
      if (model_done) {
        fuzz_check(new_sends == 0, "answered a chunk after the upload ended");
        continue;
      }
      if (open_fails) {
        model_done = true;
        fuzz_check(new_sends == 1 && reply.sends.back().starts_with("error: ") && reply.closed(),
                   "failed open must answer one error and close");
        continue;
      }
      if (chunk == options.end_word) {
        model_done = true;
        model_finished = !storage.commit_error;
        fuzz_check(storage.commits == 1, "end word without commit");
        fuzz_check(new_sends == 1 && reply.closed(), "end word must answer once and close");
        fuzz_check(model_finished ? reply.sends.back() == options.ack_word
                                  : reply.sends.back().starts_with("error: "),
                   "end word answered \"" + printable(reply.sends.back()) + "\"");
        continue;
      }
      const bool too_big =
          options.max_bytes != 0 && stored_before + chunk.size() > options.max_bytes;
      const bool append_fails = !too_big && ++model_appends == storage.fail_append_number;
      fuzz_check(new_sends == 1, std::to_string(new_sends) + " answers to one chunk");
      if (too_big || append_fails) {
        model_done = true;
        fuzz_check(reply.sends.back().starts_with("error: ") && reply.closed(),
                   "refused chunk answered \"" + printable(reply.sends.back()) + "\"");
        continue;
      }
      fuzz_check(reply.sends.back() == options.ack_word && !reply.closed(),
                 "chunk answered \"" + printable(reply.sends.back()) + "\"");
      fuzz_check(storage.data == expected_data, "stored " + std::to_string(storage.data.size()) +
                                                    " bytes, sent " +
                                                    std::to_string(expected_data.size()));
    }
    if (!async) fuzz_check(storage.data == expected_data || model_done, "stored bytes differ");
    const std::string stored_before_close = storage.data;
    if (eof && !reset) session.on_eof(reply);
    if (drain_before_close) storage.complete_all();
    session.on_close();
    session.on_close();
    fuzz_check(storage.pending() == 0 || storage.target == nullptr,
               "operations still pending after on_close()");
    fuzz_check(!reply.sent_after_close, "sent after close()");
    if (!async) fuzz_check(storage.data == stored_before_close, "bytes appended while closing");
  }

  // Both modes: acks, then at most one error, nothing after it.
  size_t acks = 0;
  for (size_t i = 0; i < reply.sends.size(); ++i) {
    const std::string& s = reply.sends[i];
    if (s == options.ack_word) {
      ++acks;
      continue;
    }
    fuzz_check(s.starts_with("error: ") && i + 1 == reply.sends.size() && reply.closed(),
               "answer " + std::to_string(i) + " is \"" + printable(s) + "\"");
  }
  fuzz_check(acks <= chunks_fed, std::to_string(acks) + " acks for " +
                                     std::to_string(chunks_fed) + " chunks");
  fuzz_check(std::string_view(expected_data).starts_with(storage.data),
             "stored bytes are not the chunks before the end word");

  const bool refused_open =
      !reply.sends.empty() && reply.sends.back().starts_with("error: cannot store upload: ");
  fuzz_check(storage.opens <= 1, "target opened " + std::to_string(storage.opens) + " times");
  if (storage.opens == 0 || refused_open) {
    fuzz_check(storage.results.empty(), "a report without an upload");
    fuzz_check(storage.abandons == 0 && storage.commits <= 1, "abandoned a file never made");
    fuzz_check(!refused_open || open_fails, "open refused, but it did not fail");
  } else {
    fuzz_check(storage.results.size() == 1,
               std::to_string(storage.results.size()) + " reports");
    const UploadResult& r = storage.results.front();
    fuzz_check(r.bytes == storage.taken_bytes, "report says " + std::to_string(r.bytes) +
                                                   " bytes, the target took " +
                                                   std::to_string(storage.taken_bytes));
    if (!async) {
      fuzz_check(r.bytes == storage.data.size(), "report says " + std::to_string(r.bytes) +
                                                     " bytes, target holds " +
                                                     std::to_string(storage.data.size()));
    }
    if (r.state == UploadResult::State::kFinished) {
      fuzz_check(storage.committed && storage.abandons == 0,
                 "finished upload not committed, or abandoned");
      fuzz_check(r.file == "upload-1", r.file);
      fuzz_check(storage.data == expected_data, "finished upload lost bytes");
      fuzz_check(acks == chunks_fed && reply.closed(), "finished upload: " + std::to_string(acks) +
                                                           " acks for " +
                                                           std::to_string(chunks_fed) + " chunks");
    } else {
      fuzz_check(storage.abandons == 1 && !storage.committed,
                 "unfinished upload: abandons " + std::to_string(storage.abandons));
      fuzz_check(!r.reason.empty(), "incomplete without a reason");
      fuzz_check(r.file == "upload-1.incomplete", r.file);
    }
  }
  // Async without the drain, a FIN after the end word may still wait for the commit.
  fuzz_check(!eof || reset || reply.closed() || (async && !drain_before_close),
             "FIN did not end the upload");
  return 0;
}
