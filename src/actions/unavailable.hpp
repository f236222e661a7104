#pragma once

// Executors for action types this node cannot carry out yet. They fail
// honestly with errc::unavailable instead of pretending success.

#include <string>

#include "actions/executor.hpp"

namespace faultd::actions {

/// Fails every execute() with errc::unavailable
/// "<type> is not available: <reason>"; rollback() is an ok no-op (nothing
/// was done).
class unavailable_executor final : public action_executor {
public:
  unavailable_executor(action_type type, std::string reason);

  action_result execute(const recovery_action& a, const action_context& ctx) override;
  status rollback(const recovery_action& a, const action_context& ctx,
                  const std::string& rollback_data) override;

private:
  action_type type_;
  std::string reason_;
};

} // namespace faultd::actions
