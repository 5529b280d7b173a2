-- Argo CD health of evaluator.nemo.dev/EvalJob (nemo-evaluator-operator).
-- Progressing: no status yet, status older than the spec, or the job is pending/running.
-- Healthy: phase Succeeded and Ready=True (results written, every pass criterion met).
-- Degraded: phase Failed or Cancelled, Stalled=True or Passed=False; the message says why.
-- Argo CD loads only the base, table and os libraries: no string functions here.
local hs = {status = "Progressing", message = "Waiting for the operator"}
if obj.status == nil then
  return hs
end
local status = obj.status
local conditions = {}
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    conditions[condition.type] = condition
  end
end
local function is(kind, value)
  return conditions[kind] ~= nil and conditions[kind].status == value
end
local function message(kind, fallback)
  local condition = conditions[kind]
  if condition ~= nil and condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  return fallback
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.message = "Waiting for the operator to observe the latest spec"
  return hs
end

local phase = status.phase
local summary = status.message
if summary == nil or summary == "" then
  summary = "EvalJob " .. (phase or "has no phase")
end
if is("Stalled", "True") or phase == "Failed" or phase == "Cancelled" or is("Passed", "False") then
  hs.status = "Degraded"
  hs.message = message("Stalled", message("Passed", summary))
  return hs
end
if phase == "Succeeded" and is("Ready", "True") then
  hs.status = "Healthy"
  hs.message = message("Ready", summary)
  return hs
end
-- Pending, Submitted, Running (Reconciling=True), or Succeeded while results are written.
hs.message = message("Reconciling", summary)
return hs
