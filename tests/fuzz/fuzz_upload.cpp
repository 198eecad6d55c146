// fuzz_upload: UploadSession over an in-memory UploadTarget, against a model.
//
// Input layout (see README.md; tests/fuzz/make-corpus writes examples):
//   byte 0   flags: bit 0 opening the target fails; bit 1 commit fails;
//            bit 2 max_bytes = byte 1 * 16 (0 stays unlimited); bit 3 words
//            "ok"/"q" instead of "success"/"quit"; bit 4 the connection ends
//            by on_close() alone (reset) instead of FIN + on_close()
//   byte 1   max_bytes / 16 (when bit 2)
//   byte 2   the n-th append fails (0: none)
//   then chunks: a length byte L and L bytes, each one read; L == 0 is the
//   peer's FIN and ends the input.
//
// Checked: the bytes appended are exactly the chunks before the end word
// (none after it, none after a failure); every chunk is answered by one ack
// or an error that closes; nothing is sent after close(); exactly one
// finished/incomplete report once a target was opened, none otherwise, with
// the byte count appended; commit and abandon at most once, never both after
// a successful commit, and nothing reaches the target after either.
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

  UploadOptions options;
  if (flags & 4) options.max_bytes = uint64_t{max_sixteenths} * 16;
  if (flags & 8) options.ack_word = "ok", options.end_word = "q";
  Storage storage;
  storage.commit_fails = flags & 2;
  storage.fail_append_number = fail_append;

  RecordingReply reply;
  bool eof = false;
  {
    UploadSession session(
        options,
        [&](std::error_code& ec) -> std::unique_ptr<UploadTarget> {
          ++storage.opens;
          if (open_fails) {
            ec = std::make_error_code(std::errc::permission_denied);
            return nullptr;
          }
          return std::make_unique<MemoryTarget>(storage);
        },
        [&](const UploadResult& r) { storage.reports.push_back(r); });

    // The model, updated chunk by chunk alongside the session.
    std::string expected_data;
    bool model_done = false;
    bool model_finished = false;
    int model_appends = 0;
    while (!in.empty()) {
      const auto chunk = in.chunk();
      if (chunk.empty()) {
        eof = true;
        break;
      }
      const size_t sends_before = reply.sent.size();
      session.on_data(as_span(chunk), reply);
      const auto new_sends = reply.sent.size() - sends_before;
      if (model_done) {
        fuzz_check(new_sends == 0, "answered a chunk after the upload ended");
        continue;
      }
      if (open_fails) {
        model_done = true;
        fuzz_check(new_sends == 1 && reply.sent.back().starts_with("error: ") && reply.closed,
                   "failed open must answer one error and close");
        continue;
      }
      if (chunk == options.end_word) {
        model_done = true;
        model_finished = !storage.commit_fails;
        fuzz_check(storage.commits == 1, "end word without commit");
        fuzz_check(new_sends == 1 && reply.closed, "end word must answer once and close");
        fuzz_check(model_finished ? reply.sent.back() == options.ack_word
                                  : reply.sent.back().starts_with("error: "),
                   "end word answered \"" + printable(reply.sent.back()) + "\"");
        continue;
      }
      const bool too_big =
          options.max_bytes != 0 && expected_data.size() + chunk.size() > options.max_bytes;
      const bool append_fails = !too_big && ++model_appends == storage.fail_append_number;
      fuzz_check(new_sends == 1, std::to_string(new_sends) + " answers to one chunk");
      if (too_big || append_fails) {
        model_done = true;
        fuzz_check(reply.sent.back().starts_with("error: ") && reply.closed,
                   "refused chunk answered \"" + printable(reply.sent.back()) + "\"");
        continue;
      }
      expected_data += chunk;
      fuzz_check(reply.sent.back() == options.ack_word && !reply.closed,
                 "chunk answered \"" + printable(reply.sent.back()) + "\"");
      fuzz_check(storage.data == expected_data, "stored " + std::to_string(storage.data.size()) +
                                                    " bytes, sent " +
                                                    std::to_string(expected_data.size()));
    }
    fuzz_check(storage.data == expected_data, "stored bytes differ from the chunks");
    if (eof && !reset) session.on_eof(reply);
    session.on_close();
    fuzz_check(storage.data == expected_data, "bytes appended while closing");

    const bool opened = storage.opens == 1 && !open_fails;
    fuzz_check(storage.opens <= 1, "target opened " + std::to_string(storage.opens) + " times");
    fuzz_check(storage.reports.size() == (opened ? 1u : 0u),
               std::to_string(storage.reports.size()) + " reports");
    if (opened) {
      const UploadResult& r = storage.reports.front();
      fuzz_check(r.bytes == storage.data.size(), "report says " + std::to_string(r.bytes) +
                                                     " bytes, target holds " +
                                                     std::to_string(storage.data.size()));
      if (model_finished) {
        fuzz_check(r.state == UploadResult::State::kFinished && storage.abandons == 0,
                   "finished upload reported incomplete or abandoned");
        fuzz_check(r.file == "upload-1", r.file);
      } else {
        fuzz_check(r.state == UploadResult::State::kIncomplete && storage.abandons == 1,
                   "unfinished upload: state " + std::to_string(static_cast<int>(r.state)) +
                       ", abandons " + std::to_string(storage.abandons));
        fuzz_check(!r.reason.empty(), "incomplete without a reason");
        fuzz_check(r.file == "upload-1.incomplete", r.file);
      }
    }
  }
  fuzz_check(!eof || reset || reply.closed, "FIN did not end the upload");
  return 0;
}
