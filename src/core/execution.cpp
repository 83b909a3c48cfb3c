#include "core/execution.h"

namespace vrestore {
namespace {

thread_local Execution current;

}  // namespace

const Execution& current_execution() { return current; }

ExecutionScope::ExecutionScope(const Execution& e) : saved_(current) { current = e; }

ExecutionScope::~ExecutionScope() { current = saved_; }

}  // namespace vrestore
