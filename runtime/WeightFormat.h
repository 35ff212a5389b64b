//===- WeightFormat.h - Weights in the form the kernels read ------*- C++ -*-===//
//
// A plan weight (tfc_weight_info) says how a tensor of the weights file is
// stored for the kernels: transposed or not, f32/f16/bf16/int8, row-major or
// packed in column panels, or the per-column scales of an int8 matrix. The
// runtime converts each tensor once, at load time, with these functions.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_RUNTIME_WEIGHTFORMAT_H
#define TFC_RUNTIME_WEIGHTFORMAT_H

#include "tfc_plan.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tfc {

struct WeightForm {
  int64_t rows = 0, cols = 0; // the logical matrix (after transposing);
                              // a vector is 1 x len, other tensors 1 x numel
  int64_t paddedCols = 0;     // cols rounded up to the panel
  int64_t bytes = 0;          // storage size
};

/// Checks `info` against the file tensor's `shape` and computes its form;
/// the message names the tensor, what the plan expects and what was found.
bool weightForm(const tfc_weight_info &info, const std::vector<int64_t> &shape,
                WeightForm &form, std::string &error);

/// Writes the tensor `data` (row-major `shape`, as checked by weightForm)
/// into `dst` (form.bytes bytes) in the form of `info`. Fails, naming the
/// tensor and element, for a value beyond f16's range in an f16 matrix.
bool storeWeight(const tfc_weight_info &info, const WeightForm &form,
                 const float *data, void *dst, std::string &error);

/// IEEE binary16 and bfloat16 bits of x, rounded to nearest even (NaN stays
/// NaN, overflow becomes infinity).
uint16_t floatToHalf(float x);
uint16_t floatToBFloat16(float x);
float halfToFloat(uint16_t h);

/// The symmetric int8 scale of a column whose largest magnitude is `maxAbs`
/// (0 for an all-zero column) and the quantized value of x.
float int8Scale(double maxAbs);
int8_t quantizeInt8(double x, float scale);

} // namespace tfc

#endif // TFC_RUNTIME_WEIGHTFORMAT_H
