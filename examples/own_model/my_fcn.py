# An mmseg 1.x config of one's own: a tiny FCN on a ResNet-18 with 8 base channels, 19 (Cityscapes) classes.
# Used by examples/own_model/models.yaml and the tests; replace it with your config file.
norm_cfg = dict(type="BN", requires_grad=True)
model = dict(
    type="EncoderDecoder",
    data_preprocessor=dict(type="SegDataPreProcessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size_divisor=8),
    backbone=dict(type="ResNetV1c", depth=18, base_channels=8, stem_channels=8, out_indices=(0, 1, 2, 3),
                  dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=norm_cfg, contract_dilation=True),
    decode_head=dict(type="FCNHead", in_channels=64, in_index=3, channels=8, num_convs=1, concat_input=False,
                     dropout_ratio=0.1, num_classes=19, norm_cfg=norm_cfg, align_corners=False,
                     loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode="whole"),
)
