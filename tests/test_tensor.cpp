#include <catch2/catch.hpp>

#include "vrestore/error.h"
#include "vrestore/tensor.h"

using vrestore::Tensor;

TEST_CASE("tensor views share storage and check their ranges", "[tensor]") {
  Tensor t = Tensor::zeros({2, 3, 4});
  Tensor second = t.select0(1);
  REQUIRE(second.shape() == vrestore::Shape{3, 4});
  second.data()[5] = 7.0f;
  CHECK(t.data()[12 + 5] == 7.0f);
  CHECK(t.reshape({6, 4}).data() == t.data());
  CHECK_THROWS_WITH(t.reshape({5, 5}), "tensor: cannot reshape (2, 3, 4) to (5, 5)");
  CHECK_THROWS_AS(t.narrow0(1, 2), vrestore::Error);
  CHECK_THROWS_AS(Tensor::zeros({1, 1, 1, 1, 1, 1}), vrestore::Error);
  CHECK(t.size(-1) == 4);
  Tensor c = t.clone();
  c.data()[0] = 1.0f;
  CHECK(t.data()[0] == 0.0f);
}
