// The mode table and the key schema must describe the same keys: every key a
// mode lists exists in the schema as mode-specific, and every mode-specific
// key of the schema is taken by some mode.
#include "config/mode_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "config/config.hpp"
#include "config/schema.hpp"

namespace socketd {
namespace {

using config_internal::KeyScope;
using config_internal::ServiceKey;

const ServiceKey* schema_key(std::string_view name) {
  return config_internal::find_key(config_internal::service_keys(), name);
}

TEST(ModeTable, NamesAreTheConfigFilesSpellings) {
  for (const auto& info : kModeTable) {
    EXPECT_EQ(std::string(to_string(info.mode)), info.name);
  }
  const auto names = mode_names();
  ASSERT_EQ(names.size(), std::size(kModeTable));
  EXPECT_EQ(names.front(), "banner");
  EXPECT_EQ(names.back(), "exec");
}

TEST(ModeTable, TransportAndUploads) {
  EXPECT_EQ(transport_of(Mode::kUdpLog), Transport::kUdp);
  EXPECT_EQ(transport_of(Mode::kEcho), Transport::kTcp);
  EXPECT_TRUE(is_upload(Mode::kUpload));
  EXPECT_TRUE(is_upload(Mode::kStreamUpload));
  EXPECT_FALSE(is_upload(Mode::kChat));
}

TEST(ModeTable, EveryListedKeyIsAModeSpecificSchemaKey) {
  for (const auto& info : kModeTable) {
    for (const auto key : info.keys) {
      const auto* spec = schema_key(key);
      ASSERT_NE(spec, nullptr) << info.name << " lists unknown key " << key;
      EXPECT_EQ(spec->scope, KeyScope::kListedModes) << key;
      EXPECT_TRUE(config_internal::applies_to(*spec, info.mode)) << key;
    }
  }
}

TEST(ModeTable, EveryModeSpecificSchemaKeyIsListedBySomeMode) {
  for (const auto& spec : config_internal::service_keys()) {
    if (spec.scope != KeyScope::kListedModes) continue;
    EXPECT_TRUE(
        std::any_of(std::begin(kModeTable), std::end(kModeTable),
                    [&](const ModeInfo& info) { return mode_takes_key(info.mode, spec.name); }))
        << spec.name << " is taken by no mode";
  }
}

TEST(ModeTable, ModesTextNamesTheModesAKeyAppliesTo) {
  EXPECT_EQ(config_internal::modes_text(*schema_key("backlog")),
            "TCP services (every mode but 'udp-log')");
  EXPECT_EQ(config_internal::modes_text(*schema_key("message")), "mode 'banner'");
  EXPECT_EQ(config_internal::modes_text(*schema_key("max_upload_bytes")),
            "modes 'upload', 'stream-upload'");
}

}  // namespace
}  // namespace socketd
