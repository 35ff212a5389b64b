//===- PlanSource.h - The plan as the runtime's C table ------------*- C++ -*-===//
//
// The last translation of the plan: a C file that defines the model's
// tfc_model table (runtime/tfc_plan.h): kernels, steps and their arguments,
// the weights as the kernels read them, and everything the runtime needs of
// the spec (the weight manifest and the layouts a weights file may use, the
// tokenizer, a ViT's image preprocessing), so that it never parses YAML.
//
//===----------------------------------------------------------------------===//
#ifndef TFC_PLAN_PLANSOURCE_H
#define TFC_PLAN_PLANSOURCE_H

#include "plan/MemoryPlan.h"
#include "spec/ModelSpec.h"

#include <string>

namespace tfc {

/// The C source of the runtime table for `plan` of `spec`. Defines `const
/// tfc_model *tfc_model_<cName>(void)`, and with `forExecutable` also
/// `tfc_main_model`. `specYaml` is kept in the table for inspection.
std::string emitPlanSource(const Plan &plan, const ModelSpec &spec,
                           const std::string &specYaml,
                           const std::string &cName, const std::string &target,
                           bool forExecutable);

} // namespace tfc

#endif // TFC_PLAN_PLANSOURCE_H
