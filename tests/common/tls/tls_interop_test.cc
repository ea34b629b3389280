#include <gtest/gtest.h>
TEST(TlsInterop, Placeholder) {}
