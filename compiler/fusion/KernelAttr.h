//===- KernelAttr.h - KernelDesc <-> the attributes of tfm.kernel -*- C++
//-*-===//
#ifndef TFC_FUSION_KERNELATTR_H
#define TFC_FUSION_KERNELATTR_H

#include "codegen/KernelDesc.h"
#include "dialect/TfmDialect.h"

#include <optional>
#include <string>

namespace tfc {

/// The descriptor as the `desc` dictionary of a tfm.kernel (only the keys
/// its kind uses).
mlir::DictionaryAttr kernelDescAttr(mlir::MLIRContext *context,
                                    const KernelDesc &desc);

/// Reads a tfm.kernel's kind and desc back; nullopt with a message naming
/// the kernel and key when something is missing or unknown.
std::optional<KernelDesc> kernelDescOf(tfm::KernelOp op, std::string &error);

std::optional<KernelKind> parseKernelKind(llvm::StringRef name);

} // namespace tfc

#endif // TFC_FUSION_KERNELATTR_H
