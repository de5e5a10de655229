"""Writes the tiny test configs under tests/data/configs/ (one or more per architecture row;
dimensions small enough that scripts/param_counts.py builds each on the meta device at once).
Run from anywhere: python3 scripts/test_configs.py"""
import json, os
D = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data", "configs")
base=dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, intermediate_size=96, vocab_size=256, max_position_embeddings=512)
def w(name, arch, **kw):
    d={"architectures":[arch]}; d.update(base); d.update(kw)
    d={k:v for k,v in d.items() if v is not DROP}
    json.dump(d, open(os.path.join(D,name+".json"),"w"), indent=1)
DROP=object()
w("llama","LlamaForCausalLM", model_type="llama")
w("llama-bias","LlamaForCausalLM", model_type="llama", attention_bias=True, mlp_bias=True, head_dim=32, tie_word_embeddings=True)
w("mistral","MistralForCausalLM", model_type="mistral", sliding_window=128)
w("mixtral","MixtralForCausalLM", model_type="mixtral", num_local_experts=4, num_experts_per_tok=2)
w("qwen2","Qwen2ForCausalLM", model_type="qwen2", use_sliding_window=True, sliding_window=128, max_window_layers=2)
w("qwen3","Qwen3ForCausalLM", model_type="qwen3", head_dim=32, tie_word_embeddings=True)
w("qwen3-moe","Qwen3MoeForCausalLM", model_type="qwen3_moe", head_dim=32, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=48, decoder_sparse_step=2, mlp_only_layers=[3])
w("qwen3-next","Qwen3NextForCausalLM", model_type="qwen3_next", head_dim=32, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=48, shared_expert_intermediate_size=40, full_attention_interval=2, linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=16, linear_value_head_dim=16, linear_conv_kernel_dim=4, num_nextn_predict_layers=0)
w("deepseek-v2","DeepseekV2ForCausalLM", model_type="deepseek_v2", num_key_value_heads=4, kv_lora_rank=32, q_lora_rank=48, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2, moe_intermediate_size=32, first_k_dense_replace=1)
w("deepseek-v3","DeepseekV3ForCausalLM", model_type="deepseek_v3", num_key_value_heads=4, kv_lora_rank=32, q_lora_rank=48, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2, moe_intermediate_size=32, first_k_dense_replace=1, n_group=2, topk_group=1)
w("gemma3-text","Gemma3ForCausalLM", model_type="gemma3_text", num_hidden_layers=7, head_dim=32, sliding_window=64)
w("gemma3-text-defaults","Gemma3ForCausalLM", model_type="gemma3_text", num_hidden_layers=7, num_key_value_heads=DROP, vocab_size=DROP)
w("gemma","GemmaForCausalLM", model_type="gemma", head_dim=32)
w("gemma2","Gemma2ForCausalLM", model_type="gemma2", head_dim=32, sliding_window=64)
w("granite","GraniteForCausalLM", model_type="granite", tie_word_embeddings=True)
w("phi3","Phi3ForCausalLM", model_type="phi3", sliding_window=127, pad_token_id=0)
w("qwen2-moe","Qwen2MoeForCausalLM", model_type="qwen2_moe", num_experts=4, num_experts_per_tok=2, moe_intermediate_size=48, shared_expert_intermediate_size=40, decoder_sparse_step=1, mlp_only_layers=[0])
w("olmo2","Olmo2ForCausalLM", model_type="olmo2")
w("minimax-m2","MiniMaxM2ForCausalLM", model_type="minimax_m2", head_dim=32, num_local_experts=4, num_experts_per_tok=2, use_qk_norm=True, qk_norm_type="per_layer")
w("gpt-oss","GptOssForCausalLM", model_type="gpt_oss", head_dim=32, num_local_experts=4, num_experts_per_tok=2, sliding_window=64, layer_types=DROP)
# multimodal
g3={"architectures":["Gemma3ForConditionalGeneration"],"model_type":"gemma3",
    "text_config":{"model_type":"gemma3_text","hidden_size":64,"num_hidden_layers":7,"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":96,"vocab_size":300},
    "vision_config":{"model_type":"siglip_vision_model","hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,"num_attention_heads":2,"image_size":64,"patch_size":8,"vision_use_head":False},
    "mm_tokens_per_image":16}
json.dump(g3, open(D+"/gemma3-vl.json","w"), indent=1)
m3={"architectures":["Mistral3ForConditionalGeneration"],"model_type":"mistral3",
    "text_config":{"model_type":"mistral","hidden_size":64,"num_hidden_layers":4,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":32,"intermediate_size":96,"vocab_size":256,"sliding_window":None},
    "vision_config":{"model_type":"pixtral","hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,"num_attention_heads":2,"image_size":64,"patch_size":8,"head_dim":16},
    "spatial_merge_size":2}
json.dump(m3, open(D+"/mistral3.json","w"), indent=1)
w("glm4-moe","Glm4MoeForCausalLM", model_type="glm4_moe", head_dim=32, n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2, moe_intermediate_size=32, first_k_dense_replace=1, attention_bias=True, use_qk_norm=True, n_group=1, topk_group=1, num_nextn_predict_layers=0)
w("glm5","GlmMoeDsaForCausalLM", model_type="glm_moe_dsa", num_key_value_heads=4, head_dim=16, kv_lora_rank=32, q_lora_rank=48, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2, moe_intermediate_size=32, first_k_dense_replace=1, n_group=1, topk_group=1, index_n_heads=2, index_head_dim=16, index_topk=8, num_nextn_predict_layers=0)
w("kimi-linear","KimiLinearForCausalLM", model_type="kimi_linear", pad_token_id=0, num_key_value_heads=4, head_dim=16, kv_lora_rank=32, q_lora_rank=None, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, num_experts=4, num_shared_experts=1, num_experts_per_token=2, moe_intermediate_size=32, first_k_dense_replace=1, moe_layer_freq=1, num_expert_group=1, topk_group=1, linear_attn_config={"kda_layers":[1,2,3],"full_attn_layers":[4],"num_heads":4,"head_dim":16,"short_conv_kernel_size":4})
w("mimo-v2-flash","MiMoV2FlashForCausalLM", model_type="mimo_v2_flash", head_dim=24, v_head_dim=16, num_key_value_heads=1, swa_num_key_value_heads=2, sliding_window=32, hybrid_layer_pattern=[0,1,1,1], n_routed_experts=4, n_shared_experts=0, num_experts_per_tok=2, moe_intermediate_size=32, first_k_dense_replace=1, num_nextn_predict_layers=0)
w("seed-oss","SeedOssForCausalLM", model_type="seed_oss", head_dim=32, attention_out_bias=True)
w("hunyuan-dense","HunYuanDenseV1ForCausalLM", model_type="hunyuan_v1_dense", head_dim=32, pad_token_id=0)
w("ernie4.5","Ernie4_5ForCausalLM", model_type="ernie4_5", head_dim=32, use_bias=True, pad_token_id=0)
w("ernie4.5-defaults","Ernie4_5ForCausalLM", model_type="ernie4_5", num_key_value_heads=DROP, max_position_embeddings=DROP, pad_token_id=0)
# The SigLIP attention-pooling head (vision_use_head defaults to true in SiglipVisionConfig).
g3h = json.loads(json.dumps(g3))
del g3h["vision_config"]["vision_use_head"]
json.dump(g3h, open(D + "/gemma3-vl-head.json", "w"), indent=1)
# Rows reusing existing families.
w("smollm3","SmolLM3ForCausalLM", model_type="smollm3", use_sliding_window=True, sliding_window=64, tie_word_embeddings=DROP, pad_token_id=0)
w("olmoe","OlmoeForCausalLM", model_type="olmoe", num_experts=4, num_experts_per_tok=2, pad_token_id=0)
w("granitemoe","GraniteMoeForCausalLM", model_type="granitemoe", num_local_experts=4, num_experts_per_tok=2, pad_token_id=0)
w("granitemoeshared","GraniteMoeSharedForCausalLM", model_type="granitemoeshared", num_local_experts=4, num_experts_per_tok=2, shared_intermediate_size=40, pad_token_id=0)
w("glm4","Glm4ForCausalLM", model_type="glm4", pad_token_id=0, head_dim=32)
w("glm","GlmForCausalLM", model_type="glm", pad_token_id=0, head_dim=32, attention_bias=False)
w("olmo3","Olmo3ForCausalLM", model_type="olmo3", sliding_window=64, pad_token_id=0)
w("ministral","MinistralForCausalLM", model_type="ministral", head_dim=16, sliding_window=64, pad_token_id=0)
w("ministral3","Ministral3ForCausalLM", model_type="ministral3", head_dim=32, pad_token_id=0)
# Helium sizes o_proj hidden × hidden whatever head_dim is: keep heads × head_dim = hidden.
w("helium","HeliumForCausalLM", model_type="helium", head_dim=16, attention_bias=True, pad_token_id=0)
w("arcee","ArceeForCausalLM", model_type="arcee", head_dim=16, mlp_bias=True, pad_token_id=0)
w("cohere","CohereForCausalLM", model_type="cohere", use_qk_norm=True, pad_token_id=0)
w("cohere2","Cohere2ForCausalLM", model_type="cohere2", head_dim=16, sliding_window=64, num_hidden_layers=6, pad_token_id=0)
w("dots1","Dots1ForCausalLM", model_type="dots1", head_dim=32, n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2, moe_intermediate_size=32, first_k_dense_replace=1, n_group=1, topk_group=1, pad_token_id=0)
w("exaone4","Exaone4ForCausalLM", model_type="exaone4", head_dim=32, sliding_window=64, sliding_window_pattern=2, pad_token_id=0)
w("ernie4.5-moe","Ernie4_5_MoeForCausalLM", model_type="ernie4_5_moe", head_dim=32, pad_token_id=0, moe_num_experts=4, moe_k=2, moe_intermediate_size=32, moe_num_shared_experts=1, moe_layer_start_index=1, moe_layer_end_index=2, moe_layer_interval=1, tie_word_embeddings=False)
w("hunyuan-moe","HunYuanMoEV1ForCausalLM", model_type="hunyuan_v1_moe", head_dim=32, pad_token_id=0, num_experts=4, moe_topk=[2,2,2,2])
# LayerNorm-with-bias, ungated and no-weight-norm layouts; Llama4.
w("gpt-neox","GPTNeoXForCausalLM", model_type="gpt_neox", num_key_value_heads=DROP, pad_token_id=0)
w("starcoder2","Starcoder2ForCausalLM", model_type="starcoder2", sliding_window=64, pad_token_id=0)
w("nemotron","NemotronForCausalLM", model_type="nemotron", head_dim=16, mlp_bias=True, pad_token_id=0)
w("phimoe","PhimoeForCausalLM", model_type="phimoe", num_local_experts=4, num_experts_per_tok=2, attention_bias=True, lm_head_bias=True, sliding_window=64, pad_token_id=0)
w("olmo","OlmoForCausalLM", model_type="olmo", pad_token_id=0)
l4=dict(model_type="llama4_text", head_dim=16, num_local_experts=4, num_experts_per_tok=1, intermediate_size_mlp=80, interleave_moe_layer_step=2, attention_chunk_size=32, pad_token_id=0)
w("llama4-text","Llama4ForCausalLM", **l4)
l4v={"architectures":["Llama4ForConditionalGeneration"],"model_type":"llama4",
    "text_config":dict(base, **l4),
    "vision_config":{"model_type":"llama4_vision_model","hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,"num_attention_heads":2,"image_size":56,"patch_size":14,"projector_input_dim":64,"projector_output_dim":64,"vision_output_dim":40,"pixel_shuffle_ratio":0.5},
    "pad_token_id":0}
json.dump(l4v, open(D+"/llama4.json","w"), indent=1)
# Mamba layers (Mamba1, Mamba2) and hybrids.
w("mamba2","Mamba2ForCausalLM", model_type="mamba2", num_heads=8, head_dim=16, expand=2, state_size=16, n_groups=2, conv_kernel=4, num_attention_heads=DROP, num_key_value_heads=DROP, intermediate_size=DROP, max_position_embeddings=DROP, pad_token_id=0)
w("mamba","MambaForCausalLM", model_type="mamba", state_size=8, conv_kernel=4, time_step_rank=8, num_attention_heads=DROP, num_key_value_heads=DROP, max_position_embeddings=DROP, pad_token_id=0)
w("nemotron-h","NemotronHForCausalLM", model_type="nemotron_h", hybrid_override_pattern="M-M*-ME", num_hidden_layers=7, head_dim=16, mamba_num_heads=8, mamba_head_dim=16, ssm_state_size=16, n_groups=2, conv_kernel=4, n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=32, moe_shared_expert_intermediate_size=40, n_group=1, topk_group=1, pad_token_id=0)
w("jamba","JambaForCausalLM", model_type="jamba", num_hidden_layers=8, num_experts=4, num_experts_per_tok=2, attn_layer_period=4, attn_layer_offset=2, expert_layer_period=2, expert_layer_offset=1, mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=8, pad_token_id=0)
w("granitemoehybrid","GraniteMoeHybridForCausalLM", model_type="granitemoehybrid", layer_types=["mamba","attention","mamba","mamba"], num_local_experts=4, num_experts_per_tok=2, shared_intermediate_size=40, mamba_n_heads=8, mamba_d_head=16, mamba_n_groups=1, mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, pad_token_id=0)
w("bamba","BambaForCausalLM", model_type="bamba", attn_layer_indices=[1], mamba_n_heads=8, mamba_d_head=16, mamba_n_groups=1, mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, pad_token_id=0)
# Qwen-VL wrappers: the Qwen2 / Qwen3 language model under text_config and the Qwen vision tower.
q25={"architectures":["Qwen2_5_VLForConditionalGeneration"],"model_type":"qwen2_5_vl",
    "text_config":dict(base, model_type="qwen2_5_vl_text", pad_token_id=0),
    "vision_config":{"model_type":"qwen2_5_vl","depth":2,"hidden_size":32,"intermediate_size":48,"num_heads":2,"out_hidden_size":64,"patch_size":14,"temporal_patch_size":2,"spatial_merge_size":2,"in_channels":3,"fullatt_block_indexes":[1]},
    "pad_token_id":0}
json.dump(q25, open(D+"/qwen2.5-vl.json","w"), indent=1)
q2={"architectures":["Qwen2VLForConditionalGeneration"],"model_type":"qwen2_vl",
    "text_config":dict(base, model_type="qwen2_vl_text", pad_token_id=0),
    "vision_config":{"model_type":"qwen2_vl","depth":2,"embed_dim":32,"hidden_size":64,"mlp_ratio":2,"num_heads":2,"patch_size":14,"temporal_patch_size":2,"spatial_merge_size":2,"in_channels":3},
    "pad_token_id":0}
json.dump(q2, open(D+"/qwen2-vl.json","w"), indent=1)
q3={"architectures":["Qwen3VLForConditionalGeneration"],"model_type":"qwen3_vl",
    "text_config":dict(base, model_type="qwen3_vl_text", head_dim=32, pad_token_id=0),
    "vision_config":{"model_type":"qwen3_vl","depth":3,"hidden_size":32,"intermediate_size":48,"num_heads":2,"out_hidden_size":64,"patch_size":16,"temporal_patch_size":2,"spatial_merge_size":2,"in_channels":3,"num_position_embeddings":64,"deepstack_visual_indexes":[0,1]},
    "pad_token_id":0}
json.dump(q3, open(D+"/qwen3-vl.json","w"), indent=1)
q3m={"architectures":["Qwen3VLMoeForConditionalGeneration"],"model_type":"qwen3_vl_moe",
    "text_config":dict(base, model_type="qwen3_vl_moe_text", head_dim=32, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=48, decoder_sparse_step=1, pad_token_id=0),
    "vision_config":{"model_type":"qwen3_vl_moe","depth":3,"hidden_size":32,"intermediate_size":48,"num_heads":2,"out_hidden_size":64,"patch_size":16,"temporal_patch_size":2,"spatial_merge_size":2,"in_channels":3,"num_position_embeddings":64,"deepstack_visual_indexes":[1]},
    "pad_token_id":0}
json.dump(q3m, open(D+"/qwen3-vl-moe.json","w"), indent=1)
# DeepSeek-V4 (compressed attention) and DeepSeek-V3.2 (lightning indexer).
w("deepseek-v4","DeepseekV4ForCausalLM", model_type="deepseek_v4", num_key_value_heads=1, head_dim=32, q_lora_rank=48, qk_rope_head_dim=8, o_lora_rank=32, o_groups=2, n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2, moe_intermediate_size=32, first_k_dense_replace=0, num_hash_layers=1, sliding_window=16, index_n_heads=2, index_head_dim=16, index_topk=8, compress_ratios=[0,4,128,4,0], num_nextn_predict_layers=0, intermediate_size=DROP, pad_token_id=0)
w("deepseek-v3.2","DeepseekV32ForCausalLM", model_type="deepseek_v32", num_key_value_heads=4, kv_lora_rank=32, q_lora_rank=48, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2, moe_intermediate_size=32, first_k_dense_replace=1, n_group=2, topk_group=1, index_n_heads=2, index_head_dim=16, index_topk=8, num_nextn_predict_layers=0, pad_token_id=0)
# GLM-4.1V / GLM-4.5V: GLM-4 / GLM-4.5 language models and the GLM-4V vision tower.
g4vv={"model_type":"glm4v_moe_vision","depth":2,"hidden_size":32,"intermediate_size":48,"num_heads":2,"out_hidden_size":64,"patch_size":14,"temporal_patch_size":2,"spatial_merge_size":2,"in_channels":3,"image_size":56}
g4vm={"architectures":["Glm4vMoeForConditionalGeneration"],"model_type":"glm4v_moe",
    "text_config":dict(base, model_type="glm4v_moe_text", head_dim=32, n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2, moe_intermediate_size=32, first_k_dense_replace=1, attention_bias=True, n_group=1, topk_group=1, pad_token_id=0),
    "vision_config":g4vv, "pad_token_id":0}
json.dump(g4vm, open(D+"/glm4v-moe.json","w"), indent=1)
g4v={"architectures":["Glm4vForConditionalGeneration"],"model_type":"glm4v",
    "text_config":dict(base, model_type="glm4v_text", pad_token_id=0),
    "vision_config":dict(g4vv, model_type="glm4v_vision"), "pad_token_id":0}
json.dump(g4v, open(D+"/glm4v.json","w"), indent=1)
# Vision-language wrappers: InternVL (the language model by text_config.model_type, or by
# llm_config.architectures in the remote InternVLChatModel layout) and MoonViT (Kimi-K2.5, Kimi-VL)
# over a DeepSeek-V3 language model.
ivv={"model_type":"internvl_vision","hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,"num_attention_heads":2,"image_size":56,"patch_size":14}
iv={"architectures":["InternVLForConditionalGeneration"],"model_type":"internvl",
    "text_config":dict(base, model_type="qwen3", head_dim=32, tie_word_embeddings=False, pad_token_id=0),
    "vision_config":dict(ivv, use_qk_norm=True, attention_bias=True, norm_type="rms_norm", use_mean_pooling=False, use_mask_token=True),
    "downsample_ratio":0.5, "tie_word_embeddings":False}
json.dump(iv, open(D+"/internvl-qwen3.json","w"), indent=1)
iv2={"architectures":["InternVLForConditionalGeneration"],"model_type":"internvl",
    "text_config":dict(base, pad_token_id=0), "vision_config":ivv}
json.dump(iv2, open(D+"/internvl.json","w"), indent=1)
ivc={"architectures":["InternVLChatModel"],"model_type":"internvl_chat",
    "llm_config":dict(base, architectures=["Qwen3ForCausalLM"], model_type="qwen3", head_dim=32, tie_word_embeddings=False),
    "vision_config":{"model_type":"intern_vit_6b","hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,"num_attention_heads":2,"image_size":56,"patch_size":14,"qkv_bias":True,"qk_normalization":False,"norm_type":"layer_norm"},
    "downsample_ratio":0.5}
json.dump(ivc, open(D+"/internvl-chat.json","w"), indent=1)
ds3=dict(base, model_type="deepseek_v3", num_key_value_heads=4, kv_lora_rank=32, q_lora_rank=48, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2, moe_intermediate_size=32, first_k_dense_replace=1, n_group=2, topk_group=1, tie_word_embeddings=False, pad_token_id=0)
k25={"architectures":["Kimi_K25ForConditionalGeneration"],"model_type":"kimi_k25","text_config":ds3,
    "vision_config":{"model_type":"kimi_k25_vision","hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,"num_attention_heads":2,"patch_size":14,"pos_emb_height":8,"pos_emb_width":8,"merge_kernel_size":[2,2]},
    "projection_hidden_size":32, "tie_word_embeddings":False}
json.dump(k25, open(D+"/kimi-k25.json","w"), indent=1)
k25r={"architectures":["KimiK25ForConditionalGeneration"],"model_type":"kimi_k25","text_config":dict(ds3, architectures=["DeepseekV3ForCausalLM"]),
    "vision_config":{"vt_hidden_size":32,"vt_intermediate_size":48,"vt_num_hidden_layers":2,"vt_num_attention_heads":2,"patch_size":14,"init_pos_emb_height":8,"init_pos_emb_width":8,"init_pos_emb_time":4,"merge_kernel_size":[2,2],"mm_hidden_size":32,"text_hidden_size":64},
    "tie_word_embeddings":False}
json.dump(k25r, open(D+"/kimi-k25-remote.json","w"), indent=1)
kvl={"architectures":["KimiVLForConditionalGeneration"],"model_type":"kimi_vl","text_config":dict(ds3, q_lora_rank=None),
    "vision_config":{"model_type":"moonvit","hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,"num_attention_heads":2,"patch_size":14,"init_pos_emb_height":8,"init_pos_emb_width":8,"merge_kernel_size":[2,2]}}
json.dump(kvl, open(D+"/kimi-vl.json","w"), indent=1)
# ERNIE 4.5 VL: text and vision expert sets in the sparse layers, the ViT and the resampler.
# mrope_section sums to head_dim / 2 (16 / 2 = 8), as the text rotary embedding requires.
e45v={"architectures":["Ernie4_5_VLMoeForConditionalGeneration"],"model_type":"ernie4_5_vl_moe",
    "text_config":dict(base, model_type="ernie4_5_vl_moe_text", moe_num_experts=4, moe_k=2, moe_intermediate_size=[32,16], moe_num_shared_experts=1, mlp_layer_types=["dense","sparse","sparse","dense"], tie_word_embeddings=False, pad_token_id=0, rope_parameters={"rope_type":"default","rope_theta":500000.0,"mrope_section":[3,3,2]}),
    "vision_config":{"model_type":"ernie4_5_vl_moe_vision","depth":2,"hidden_size":32,"intermediate_size":48,"num_heads":2,"patch_size":14,"spatial_merge_size":2,"temporal_merge_size":2},
    "tie_word_embeddings":False}
json.dump(e45v, open(D+"/ernie4.5-vl.json","w"), indent=1)
# Step3 (remote code): MFA attention (query bottleneck share_q_dim, one K/V head), MoE on the
# layers moe_layers_enum lists (a comma-separated string, as published), the Step3 ViT.
s3={"architectures":["Step3VLForConditionalGeneration"],"model_type":"step3_vl",
    "text_config":{"architectures":["Step3TextForCausalLM"],"model_type":"step3_text","hidden_size":64,"num_hidden_layers":4,"num_attention_heads":4,"num_attention_groups":1,"head_dim":16,"share_q_dim":32,"intermediate_size":96,"vocab_size":256,"max_position_embedding":512,"moe_layers_enum":"1,2","moe_num_experts":4,"moe_top_k":2,"moe_intermediate_size":32,"share_expert_dim":40},
    "vision_config":{"model_type":"step3_vision_encoder","hidden_size":32,"intermediate_size":48,"output_hidden_size":24,"num_hidden_layers":2,"num_attention_heads":2,"image_size":56,"patch_size":14},
    "projector_bias":True}
json.dump(s3, open(D+"/step3.json","w"), indent=1)
# LLaVA: a CLIP tower over the default Llama text (llava-1.5 style), and a Pixtral tower over
# Mistral (Pixtral-12B style, two feature layers, no projector bias).
lv={"architectures":["LlavaForConditionalGeneration"],"model_type":"llava",
    "text_config":dict(base, model_type="llama", pad_token_id=0),
    "vision_config":{"model_type":"clip_vision_model","hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,"num_attention_heads":2,"image_size":56,"patch_size":14,"projection_dim":16},
    "vision_feature_layer":-2}
json.dump(lv, open(D+"/llava.json","w"), indent=1)
lvp={"architectures":["LlavaForConditionalGeneration"],"model_type":"llava",
    "text_config":dict(base, model_type="mistral", head_dim=32, sliding_window=None, pad_token_id=0),
    "vision_config":{"model_type":"pixtral","hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,"num_attention_heads":2,"image_size":64,"patch_size":8,"head_dim":16},
    "vision_feature_layer":[-1,-2], "multimodal_projector_bias":False}
json.dump(lvp, open(D+"/llava-pixtral.json","w"), indent=1)
# LongCat-Flash: num_layers layers of two MLA sublayers each (num_hidden_layers is derived).
w("longcat-flash","LongcatFlashForCausalLM", model_type="longcat_flash", num_hidden_layers=DROP, num_layers=2, num_key_value_heads=DROP, intermediate_size=DROP, ffn_hidden_size=96, kv_lora_rank=32, q_lora_rank=48, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=4, zero_expert_num=2, moe_topk=2, expert_ffn_hidden_size=32, pad_token_id=0)
# MiMo (remote code: counted by hand in tests/param_counts.rs).
w("mimo","MiMoForCausalLM", model_type="mimo", num_nextn_predict_layers=1, attention_bias=True, pad_token_id=0)
# Falcon: falcon-7b (multi-query, parallel attention, one LayerNorm), falcon-40b/180b (new decoder
# architecture: grouped KV heads, two LayerNorms), falcon-rw (MHA, sequential, biases, alibi).
fal=dict(model_type="falcon", num_key_value_heads=DROP, intermediate_size=DROP, pad_token_id=0)
w("falcon-7b","FalconForCausalLM", **fal)
w("falcon-40b","FalconForCausalLM", new_decoder_architecture=True, num_kv_heads=2, ffn_hidden_size=80, tie_word_embeddings=False, **fal)
w("falcon-rw","FalconForCausalLM", multi_query=False, parallel_attn=False, bias=True, alibi=True, **fal)
# FalconMamba (Mamba1 layout, weightless B/C/dt norms); intermediate_size and time_step_rank
# derived (expand × hidden, ceil(hidden / 16)).
w("falcon-mamba","FalconMambaForCausalLM", model_type="falcon_mamba", state_size=8, conv_kernel=4, expand=3, num_attention_heads=DROP, num_key_value_heads=DROP, intermediate_size=DROP, max_position_embeddings=DROP, pad_token_id=0)
# Apertus: xIELU (two learned scalars per MLP), ungated MLP, per-head QK norms.
w("apertus","ApertusForCausalLM", model_type="apertus", head_dim=32, pad_token_id=0)
# InternLM3 and InternLM2 (remote code: counted by hand in tests/param_counts.rs).
w("internlm3","InternLM3ForCausalLM", model_type="internlm3", head_dim=32, qkv_bias=False, bias=False, pad_token_id=0)
w("internlm2","InternLM2ForCausalLM", model_type="internlm2", bias=True, pad_token_id=0)
# Falcon-H1: attention and a Mamba2 mixer in parallel in every layer.
w("falcon-h1","FalconH1ForCausalLM", model_type="falcon_h1", mamba_d_ssm=128, mamba_n_heads=8, mamba_n_groups=2, mamba_d_state=16, mamba_d_conv=4, mamba_rms_norm=True, pad_token_id=0)
w("falcon-h1-defaults","FalconH1ForCausalLM", model_type="falcon_h1", mamba_d_ssm=None, mamba_n_heads=8, mamba_n_groups=1, mamba_d_state=16, projectors_bias=True, mamba_proj_bias=True, pad_token_id=0)
# MiniMax (transformers): lightning / softmax layers by layer_types, and by MiniMaxConfig's default.
w("minimax","MiniMaxForCausalLM", model_type="minimax", head_dim=16, num_local_experts=4, num_experts_per_tok=2, layer_types=["linear_attention","full_attention","linear_attention","full_attention"], pad_token_id=0)
w("minimax-defaults","MiniMaxForCausalLM", model_type="minimax", num_local_experts=4, num_experts_per_tok=2, pad_token_id=0)
# MiniMax-M1 (remote code; the MiniMax-Text-01 layout by attn_type_list; counted by hand).
w("minimax-m1","MiniMaxM1ForCausalLM", model_type="minimax_m1", head_dim=16, num_local_experts=4, num_experts_per_tok=2, attn_type_list=[0,0,0,1], pad_token_id=0)
# EXAONE 3.x (remote code): the Llama layout with num_layers; counted by hand.
w("exaone","ExaoneForCausalLM", model_type="exaone", num_hidden_layers=DROP, num_layers=4, pad_token_id=0)
# EXAONE MoE: EXAONE 4 attention and DeepSeek-V3 MoE; mlp_layer_types overrides first_k_dense_replace.
w("exaone-moe","ExaoneMoeForCausalLM", model_type="exaone_moe", head_dim=32, sliding_window=64, sliding_window_pattern=2, num_experts=4, num_experts_per_tok=2, num_shared_experts=1, moe_intermediate_size=32, mlp_layer_types=["dense","sparse","dense","sparse"], pad_token_id=0)
# MiniMax-Text-01 (remote code) with shared_intermediate_size: a gated shared MLP and its
# coefficient gate on the layers the per-layer list gives a positive width (0 past its end).
w("minimax-text-01-shared","MiniMaxText01ForCausalLM", model_type="minimax_text_01", head_dim=16, num_local_experts=4, num_experts_per_tok=2, attn_type_list=[0,0,0,1], shared_intermediate_size=[40,40], shared_moe_mode="sigmoid", pad_token_id=0)
# RWForCausalLM (pre-transformers Falcon, vLLM RWConfig): falcon-7b's published keys
# (RefinedWebModel: multi_query, parallel_attn), and one leaving RWConfig's defaults apply
# (parallel_attn false: two LayerNorms) with MHA and the n_embed alias.
rw=dict(num_hidden_layers=DROP, n_layer=4, num_attention_heads=DROP, n_head=4, num_key_value_heads=DROP, intermediate_size=DROP, max_position_embeddings=DROP)
w("rw-falcon-7b","RWForCausalLM", model_type="RefinedWebModel", multi_query=True, parallel_attn=True, bias=False, alibi=False, **rw)
w("rw-defaults","RWForCausalLM", model_type="RefinedWebModel", hidden_size=DROP, n_embed=64, multi_query=False, **rw)
# Zamba2: Mamba2 layers, three hybrid layers sharing two transformer blocks (weights counted
# once), q/k/v and gate_up adapters per hybrid layer; and one on Zamba2Config's defaults (one
# block, no attention adapters, MLP 4 × hidden, adapter rank 128) with GQA and hybrid_layer_ids.
w("zamba2","Zamba2ForCausalLM", model_type="zamba2", num_hidden_layers=6, num_key_value_heads=DROP, layers_block_type=["mamba","hybrid","mamba","hybrid","mamba","hybrid"], num_mem_blocks=2, use_shared_attention_adapter=True, adapter_rank=8, n_mamba_heads=8, mamba_d_state=16, mamba_ngroups=2, mamba_d_conv=4, mamba_expand=2, pad_token_id=0)
w("zamba2-defaults","Zamba2ForCausalLM", model_type="zamba2", num_hidden_layers=5, intermediate_size=DROP, layers_block_type=["linear_attention","hybrid","hybrid","linear_attention","hybrid"], hybrid_layer_ids=[1,2,4], mamba_d_state=16, pad_token_id=0)
