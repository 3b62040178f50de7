// THROWAWAY
use cordon_local_model::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (model, st) = LocalModel::index_workspace(
        ModelConfig {
            order: 6,
            ..Default::default()
        },
        std::path::Path::new(&args[1]),
    )
    .unwrap();
    eprintln!("{st:?}");
    for p in &args[2..] {
        let p = p.replace("\\n", "\n");
        let d = model.complete(&CompletionRequest {
            prefix: &p,
            suffix: "",
            max_tokens: 40,
            stop: &[],
        });
        println!("{:?} => {:?}", p, d);
    }
}
