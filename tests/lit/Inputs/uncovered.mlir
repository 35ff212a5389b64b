// A primitive op that no kernel template covers: tfm-fuse must name it.
func.func @forward(%arg0: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = tfm.activation relu %arg0 : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
