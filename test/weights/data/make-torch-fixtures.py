# Generator of test/weights/data/torch-dtypes*.pth (PyTorch 1.13.1 from Debian python3-torch), run in this folder.
import math, torch
from collections import OrderedDict
sd = OrderedDict()
base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8
sd['f32'] = base
sd['f32_t'] = base.t()
sd['f32_slice'] = base[1:3, 2:5]
sd['expand'] = torch.arange(3, dtype=torch.float32).expand(2, 3)
sd['f16'] = torch.tensor([1.0, -2.5, 65504, 6e-8], dtype=torch.float16)
sd['bf16'] = torch.tensor([1.0, -2.5, 3e38, 1e-38], dtype=torch.bfloat16)
sd['f64'] = torch.tensor([math.pi, -1e300], dtype=torch.float64)
sd['i64'] = torch.tensor([[0, -1], [2**62, -2**63]], dtype=torch.int64)
sd['i64_t'] = sd['i64'].t()
sd['i32'] = torch.tensor([-7, 2**31 - 1], dtype=torch.int32)
sd['i8'] = torch.tensor([-128, 0, 127], dtype=torch.int8)
sd['u8'] = torch.tensor([0, 255], dtype=torch.uint8)
sd['bool'] = torch.tensor([[True, False], [False, True]])
sd['scalar'] = torch.tensor(2.5)
sd['empty'] = torch.zeros(0, 3)
sd['param'] = torch.nn.Parameter(torch.full((2, 2), 0.25))
sd['tied'] = base
torch.save({'model': sd, 'epoch': 7, 'name': 'tiny', 'lr': 0.001}, 'torch-dtypes.pth')
torch.save({'state_dict': sd}, 'torch-dtypes-p4.pth', pickle_protocol=4)
