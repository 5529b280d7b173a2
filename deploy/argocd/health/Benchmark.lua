-- Argo CD health of evaluator.nemo.dev/Benchmark (nemo-evaluator-operator).
-- Healthy: Ready=True for the current spec (the NeMo config matches it).
-- Degraded: Stalled=True (NeMo rejected the config); the message says why.
-- Progressing: no status yet, status older than the spec, or retrying (e.g. NeMo unreachable).
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
  if is("Reconciling", "True") then
    hs.message = message("Reconciling", hs.message)
  end
  return hs
end
if is("Stalled", "True") then
  hs.status = "Degraded"
  hs.message = message("Stalled", "Stalled")
  return hs
end
if is("Ready", "True") then
  hs.status = "Healthy"
  hs.message = message("Ready", "Ready")
  return hs
end
hs.message = message("Reconciling", message("Ready", "Waiting for the NeMo config to sync"))
return hs
