#pragma once

// circuit_breaker: opens the circuit of a target on the node's
// circuit_board, so callers that consult it stop sending it work.

#include "actions/circuit_board.hpp"
#include "actions/executor.hpp"

namespace faultd::actions {

/// Executes circuit_breaker actions.
///
/// Breaker limits given as parameters (see parse_circuit_parameters) are
/// applied to the target's breaker first; a bad value is errc::bad_request.
/// Then the breaker is opened: it half-opens after open_wait and closes when
/// probes (check results fed to circuit_board::record) pass, unless
/// parameters["hold"] is "true", which keeps it open until closed.
/// rollback_data is the previous state; rollback() opens the breaker again
/// if it was open before, and closes it otherwise.
class circuit_breaker_executor final : public action_executor {
public:
  /// `board` must outlive the executor.
  explicit circuit_breaker_executor(circuit_board& board);

  action_result execute(const recovery_action& a, const action_context& ctx) override;
  status rollback(const recovery_action& a, const action_context& ctx,
                  const std::string& rollback_data) override;

private:
  circuit_board& board_;
};

} // namespace faultd::actions
