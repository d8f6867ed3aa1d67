-- PUT a 256-byte value to a random key of 100,000, as `synod bench` does.
local value = string.rep("v", 256)
request = function()
  return wrk.format("PUT", "/v1/kv/key-" .. math.random(0, 99999), nil, value)
end
