import IsaerftCore
print(BLAS.coreName)
var c = Tensor(shape: [2, 2])
matmul(Tensor(shape: [2, 3], repeating: 1), Tensor(shape: [3, 2], repeating: 2), into: &c)
print(c)
